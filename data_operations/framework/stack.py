"""Operations that combine a stack of frames into one image, a band of rows at a time.

The science of such an operation is one method, :meth:`StackOperation.combine_band`: from a band
of stacked pixels ``(frames, rows, cols)`` to a band of result pixels ``(rows, cols)``. The
framework fetches the frames, opens them as they are or aligned on the sky, admits the work
against the worker's memory limit, sizes the bands from the memory budget, streams each finished
band to the product writer (whose compressor threads overlap the next band), notes crops and
pointing differences, and writes the product with its provenance.
"""
from __future__ import annotations

import enum
import math
from abc import abstractmethod
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits

from data_operations.base import BaseDataOperation, OperationResult
from data_operations.context import OperationContext
from data_operations.frames import FrameStack, efficient_band_rows
from data_operations.frames.alignment import AlignedStack, optimal_grid, replace_wcs, unaligned_pointing_warning
from data_operations.framework.headers import (
    INFINITE_COMMENT,
    INFINITE_KEYWORD,
    Keywords,
    infinite_note,
    note_crop,
    output_header,
)
from data_operations.framework.inputs import FetchedFiles, fetch_files
from data_operations.framework.progress import ProgressPlan, ProgressReport
from data_operations.kernels.threads import core_count, split_rows
from data_operations.products import shared_metadata
from data_operations.products.image_product import ImageProductWriter

ALIGN_INPUT = {
    "name": "Align",
    "description": "Align the frames on the sky using their WCS before combining (wcs), or combine "
                   "them pixel by pixel as they are (none)",
    "type": "select",
    "options": ["none", "wcs"],
    "default": "none",
}
# Relative shares of the progress bar.
FETCH_WEIGHT, ALIGN_WEIGHT, COMBINE_WEIGHT, WRITE_WEIGHT = 0.2, 0.3, 0.4, 0.1

Stack = FrameStack | AlignedStack


class Alignment(enum.Enum):
    """How the frames of a stack are put on one pixel grid before combining."""

    NONE = "none"  # pixel by pixel, over the common region from the origin
    FIRST_FRAME = "first_frame"  # reprojected onto the first frame's grid
    COMMON_GRID = "common_grid"  # reprojected onto one grid covering all, cut to where every frame lies


class StackOperation(BaseDataOperation):
    """Base of the operations whose science maps a band of stacked pixels to a band of one image."""

    abstract: ClassVar[bool] = True
    #: The ``fits`` input holding the frames.
    input_key: ClassVar[str] = "input_files"
    #: File stem of the product (``<stem>.fits``, ``<stem>-large.jpg``...).
    output_stem: ClassVar[str]
    #: What the product is called in messages ("the median covers their common region...").
    product_noun: ClassVar[str]
    #: The verb of the per-band progress message ("Combining rows 1-64 of 4096.").
    band_verb: ClassVar[str] = "Combining"
    #: Told to the user when unaligned frames point at different places.
    unaligned_hint: ClassVar[str] = "Choose align 'wcs' to align them on the sky."
    #: Split every band over the cores (for numpy kernels; C kernels that thread themselves say False).
    split_band_across_cores: ClassVar[bool] = False
    #: Whole-image planes the science fills besides the result, written as extensions after ``SCI``:
    #: ``{EXTNAME: (dtype, comment)}``.
    extra_planes: ClassVar[Mapping[str, tuple[type, str]]] = {}

    # --- what an operation may say about itself -------------------------------------------------
    def alignment(self) -> Alignment:
        """From the ``align`` input, when the operation has one: ``wcs`` aligns onto the first frame."""
        wants_wcs = "align" in self.input_specs() and self.value("align") == "wcs"
        return Alignment.FIRST_FRAME if wants_wcs else Alignment.NONE

    def band_working_copies(self) -> float:
        """Band-sized float32 arrays the science holds while combining one band, beyond the band."""
        return 0.0

    def output_keywords(self, stack: Stack) -> Keywords:
        """Header keywords that describe this computation (method, thresholds, counts)."""
        return {}

    def band_message(self) -> str:
        """Words appended to the per-band progress message."""
        return ""

    def closing_notes(self, shape: tuple[int, int]) -> list[str]:
        """Warnings known once every band is combined."""
        return []

    @abstractmethod
    def combine_band(self, band: np.ndarray, out: np.ndarray, planes: dict[str, np.ndarray]) -> None:
        """The science: combine ``band`` (frames, rows, cols) into ``out`` (rows, cols), float32.

        ``planes`` holds the rows of each ``extra_planes`` image that match ``out``. ``band`` is
        reused for the next band once this returns; ``out`` must not be kept.
        """

    # --- the framework ------------------------------------------------------------------------------
    def operate(self, context: OperationContext) -> OperationResult:
        alignment = self.alignment()
        aligned = alignment is not Alignment.NONE
        plan = ProgressPlan(context, [("fetch", FETCH_WEIGHT), *([("align", ALIGN_WEIGHT)] if aligned else []),
                                      ("combine", COMBINE_WEIGHT), ("write", WRITE_WEIGHT)])
        inputs = fetch_files(context, self.files(self.input_key), plan.step("fetch"))
        warnings: list[str] = []
        with _open_stack(inputs, alignment, context, plan.step("align") if aligned else None) as stack:
            self.admit(context, shape=stack.shape, frame_count=stack.count)
            header = output_header(stack.headers[0], self.output_keywords(stack))
            if alignment is Alignment.COMMON_GRID:
                header = replace_wcs(header, stack.wcs)
            if stack.cropped:
                warnings.append(note_crop(header, stack.shape, self.product_noun))
            counts_infinite = hasattr(stack, "infinite_counts")
            if counts_infinite:  # known once every band is read: reserved now, set when the file closes
                header[INFINITE_KEYWORD] = (0, INFINITE_COMMENT)
            planes = {name: np.zeros(stack.shape, dtype=dtype) for name, (dtype, _) in self.extra_planes.items()}
            with ImageProductWriter(stack.shape, header, stem=self.output_stem, temp_dir=context.temp_dir,
                                    provenance=context.provenance, inputs=inputs.basenames,
                                    metadata=shared_metadata(stack.headers)) as product:
                self._combine(stack, context, product, planes, plan.step("combine"))
                if not aligned:  # here its WCS work overlaps the compression of the last bands
                    pointing = unaligned_pointing_warning(stack.frames, stack.shape, self.unaligned_hint)
                    warnings.extend([pointing] if pointing else [])
                infinite = sum(stack.infinite_counts) if counts_infinite else 0
                warnings.extend([infinite_note(infinite)] if infinite else [])
                plan.begin("write", f"Writing the {self.product_noun} and previews.")
                output = product.finish(extensions=self._plane_extensions(planes),
                                        header_updates={INFINITE_KEYWORD: infinite} if counts_infinite else None)
            warnings.extend(self.closing_notes(stack.shape))
        plan.done()
        return OperationResult(output_files=[output], warnings=warnings)

    def _combine(self, stack: Stack, context: OperationContext, product: ImageProductWriter,
                 planes: dict[str, np.ndarray], report: ProgressReport) -> None:
        ny, nx = stack.shape
        plane_bytes = sum(plane.nbytes for plane in planes.values())
        rows = efficient_band_rows(context.memory_budget_bytes - plane_bytes,
                                   math.ceil(stack.count * (1 + self.band_working_copies())), nx)
        threads = core_count() if self.split_band_across_cores else 1
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="combine") if threads > 1 else None
        with pool or nullcontext():
            for y0, y1, band in stack.bands(rows):
                # A fresh array per band: the compressor still reads earlier ones.
                out = np.empty((y1 - y0, nx), dtype=np.float32)
                parts = split_rows(y1 - y0, threads)
                if pool is None or len(parts) == 1:
                    self.combine_band(band, out, {name: plane[y0:y1] for name, plane in planes.items()})
                else:  # the decoder threads wait on this band, so all cores work on it
                    for future in [pool.submit(self.combine_band, band[:, a:b], out[a:b],
                                               {name: plane[y0 + a:y0 + b] for name, plane in planes.items()})
                                   for a, b in parts]:
                        future.result()
                product.write_rows(y0, out)
                report(y1 / ny, f"{self.band_verb} rows {y0 + 1}\N{EN DASH}{y1} of {ny}{self.band_message()}.")

    def _plane_extensions(self, planes: dict[str, np.ndarray]) -> list[fits.CompImageHDU]:
        extensions = []
        for name, plane in planes.items():
            hdu = fits.CompImageHDU(plane, name=name, compression_type="RICE_1")  # lossless for integers
            hdu.header["COMMENT"] = self.extra_planes[name][1]
            extensions.append(hdu)
        return extensions


def _open_stack(inputs: FetchedFiles, alignment: Alignment, context: OperationContext,
                report: ProgressReport | None) -> Stack:
    """The frames as they are, or reprojected onto the grid ``alignment`` asks for."""
    if alignment is Alignment.NONE:
        return FrameStack(inputs.paths, inputs.basenames)
    options: dict[str, Any] = {}
    if alignment is Alignment.COMMON_GRID:
        with FrameStack(inputs.paths, inputs.basenames) as headers_only:
            options = {"grid": optimal_grid(headers_only.frames), "crop_to_common": True}
    return AlignedStack(inputs.paths, inputs.basenames, workdir=context.temp_dir / "aligned",
                        memory_budget_bytes=context.memory_budget_bytes, progress=report, **options)
