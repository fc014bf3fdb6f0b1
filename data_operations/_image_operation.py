"""What the image operations share: fetching inputs with progress, progress over a span, publishing.

``ImageOperation`` is an intermediate class (``abstract = True``): the registry lists only the
operations built on it.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from astropy.io import fits

from data_operations.base import BaseDataOperation
from data_operations.context import OperationContext

ALIGN_INPUT = {
    "name": "Align",
    "description": "Align the frames on the sky using their WCS before combining (wcs), or combine "
                   "them pixel by pixel as they are (none)",
    "type": "select",
    "options": ["none", "wcs"],
    "default": "none",
}


def progress_span(context: OperationContext, start: float, end: float) -> Callable[[float, str], None]:
    """A progress callback that maps 0..1 of one step onto ``start..end`` of the whole operation."""

    def report(fraction: float, message: str = "") -> None:
        context.set_progress(start + (end - start) * min(1.0, max(0.0, fraction)), message)

    return report


class ImageOperation(BaseDataOperation):
    """Base of the operations that read FITS frames and publish images."""

    abstract: ClassVar[bool] = True

    def fetch(self, context: OperationContext, key: str, *, start: float, end: float,
              label: str = "input") -> tuple[list[Path], list[str]]:
        """Local paths and basenames of the files of input ``key``, reporting progress per file."""
        items = self.files(key)
        report = progress_span(context, start, end)
        paths = []
        for position, item in enumerate(items):
            report(position / len(items), f"Fetching {label} {position + 1} of {len(items)}.")
            paths.append(context.input_path(item))
        return paths, [item["basename"] for item in items]

    @staticmethod
    def note_crop(header: fits.Header, shape: tuple[int, int], what: str) -> str:
        """Record in ``header`` that inputs were cropped to their common region; return the warning."""
        ny, nx = shape
        note = (f"The input frames differ in size; the {what} covers their common region of {nx}x{ny} "
                "pixels from the origin.")
        header["DLCROP"] = (True, "Inputs cropped to common region")
        header.add_history(note)
        return note
