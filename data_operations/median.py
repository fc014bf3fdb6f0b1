"""Median: the pixel-by-pixel NaN-aware median of a stack of frames.

Frames are combined a band of rows at a time within the context's memory budget; frames of
different sizes are cropped to their common region from the origin.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations.base import BaseDataOperation, OperationResult
from data_operations.context import OperationContext, OutputFile
from data_operations.frames import FrameStack, band_rows_for_budget
from data_operations.kernels import nanmedian_band
from data_operations.products import (
    build_output_header,
    shared_metadata,
    write_jpeg_previews,
    write_output_fits,
)

OUTPUT_STEM = "median"
# Shares of the progress bar: fetching inputs, combining bands, writing products.
FETCH_SHARE = 0.3
COMBINE_SHARE = 0.6


class Median(BaseDataOperation):
    @staticmethod
    def name() -> str:
        return "Median"

    @staticmethod
    def description() -> str:
        return (
            "The median takes the middle value of every pixel across the input frames, ignoring "
            "missing (NaN) pixels. It rejects outliers such as cosmic rays and satellite trails "
            "better than a mean. Frames of different sizes are cropped to their common region."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return {
            "name": cls.name(),
            "description": cls.description(),
            "category": "image",
            "inputs": {
                "input_files": {
                    "name": "Input Files",
                    "description": "The input files to operate on",
                    "type": "fits",
                    "minimum": 2,
                    "maximum": 999,
                }
            },
        }

    def operate(self, context: OperationContext) -> OperationResult:
        items = self.files("input_files")
        paths = []
        for position, item in enumerate(items):
            context.set_progress(FETCH_SHARE * position / len(items),
                                 f"Fetching input {position + 1} of {len(items)}.")
            paths.append(context.input_path(item))
        basenames = [item["basename"] for item in items]

        warnings: list[str] = []
        with FrameStack(paths, basenames) as stack:
            median = self._combine(stack, context)
            header = build_output_header(stack.frames[0].header)
            metadata = shared_metadata(stack.headers)
            if stack.cropped:
                ny, nx = stack.shape
                note = (f"The input frames differ in size; the median covers their common region "
                        f"of {nx}x{ny} pixels from the origin.")
                warnings.append(note)
                header["DLCROP"] = (True, "Inputs cropped to common region")
                header.add_history(note)

        context.set_progress(FETCH_SHARE + COMBINE_SHARE, "Writing the median image and previews.")
        output = self._write_products(median, header, basenames, context)
        output.metadata = metadata
        context.set_progress(1.0, "Done.")
        return OperationResult(output_files=[output], warnings=warnings)

    @staticmethod
    def _combine(stack: FrameStack, context: OperationContext) -> np.ndarray:
        """The median image, computed band by band; the result itself counts against the budget."""
        ny, nx = stack.shape
        median = np.empty((ny, nx), dtype=np.float32)
        rows = band_rows_for_budget(context.memory_budget_bytes - median.nbytes, stack.count, nx)
        for y0, y1, band in stack.bands(rows):
            nanmedian_band(band, out=median[y0:y1])
            context.set_progress(FETCH_SHARE + COMBINE_SHARE * y1 / ny,
                                 f"Combining rows {y0 + 1}\N{EN DASH}{y1} of {ny}.")
        return median

    @staticmethod
    def _write_products(median: np.ndarray, header, basenames: list[str],
                        context: OperationContext) -> OutputFile:
        temp_dir = context.temp_dir
        fits_path = temp_dir / f"{OUTPUT_STEM}.fits"
        large_path = temp_dir / f"{OUTPUT_STEM}-large.jpg"
        small_path = temp_dir / f"{OUTPUT_STEM}-small.jpg"
        provenance = {**context.provenance, "inputs": basenames}
        write_output_fits(fits_path, median, header, provenance=provenance)
        write_jpeg_previews(median, large_path=large_path, small_path=small_path)
        return OutputFile(fits_path=fits_path, large_jpg_path=large_path, small_jpg_path=small_path,
                          type="fits")
