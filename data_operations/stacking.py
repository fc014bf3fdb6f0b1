"""Stacking: the pixel-wise sum of frames, as they are or reprojected onto one celestial grid.

``simple`` adds the frames pixel by pixel over their common region from the origin. ``reproject``
first reprojects every frame onto one optimal TAN grid covering them all, then sums the bounding
box of the region every frame covers; the product's header carries that grid's WCS. A pixel is
summed only where every frame has a value (NaN elsewhere). Sums run band by band.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations._image_operation import ImageOperation, progress_span
from data_operations.base import OperationResult, fits_input
from data_operations.context import OperationContext
from data_operations.frames import FrameStack, efficient_band_rows
from data_operations.frames.alignment import AlignedStack, optimal_grid, replace_wcs, unaligned_pointing_warning
from data_operations.kernels.combine import sum_band
from data_operations.products import build_output_header, shared_metadata
from data_operations.products.image_product import ImageProductWriter

OUTPUT_STEM = "stack"
STACKING_MODES = ("simple", "reproject")
FETCH_END = 0.2
ALIGN_END = 0.6  # only with reproject; otherwise summing starts at FETCH_END
SUM_END = 0.9


class Stacking(ImageOperation):
    @staticmethod
    def name() -> str:
        return "Stacking"

    @staticmethod
    def description() -> str:
        return (
            "Adds the input frames pixel by pixel into one image. 'simple' adds them as they are, over "
            "their common region; 'reproject' first aligns every frame onto one celestial grid using "
            "its WCS and sums the region all frames cover. A pixel is blank wherever any frame has no "
            "value."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "input_files": fits_input("Input Files", "The frames to stack", minimum=2, maximum=999),
            "stacking_mode": {
                "name": "Stacking Mode",
                "description": "Sum the frames as they are (simple) or aligned on the sky (reproject)",
                "type": "select",
                "options": list(STACKING_MODES),
                "default": "simple",
            },
        })

    def operate(self, context: OperationContext) -> OperationResult:
        mode = self.value("stacking_mode")
        paths, basenames = self.fetch(context, "input_files", start=0.0, end=FETCH_END)
        warnings: list[str] = []
        if mode == "reproject":
            sum_start = ALIGN_END
            with FrameStack(paths, basenames) as headers_only:
                grid = optimal_grid(headers_only.frames)
            stack = AlignedStack(paths, basenames, workdir=context.temp_dir / "aligned", grid=grid,
                                 crop_to_common=True, memory_budget_bytes=context.memory_budget_bytes,
                                 progress=progress_span(context, FETCH_END, ALIGN_END))
        else:
            sum_start = FETCH_END
            stack = FrameStack(paths, basenames)

        with stack:
            self.admit(context, shape=stack.shape, frame_count=stack.count)
            ny, nx = stack.shape
            header = build_output_header(stack.headers[0])
            metadata = shared_metadata(stack.headers)
            if mode == "reproject":
                header = replace_wcs(header, stack.wcs)
            else:
                if stack.cropped:
                    warnings.append(self.note_crop(header, stack.shape, "stack"))
            header["STACKMOD"] = (mode, "Stacking mode")
            header["NCOMBINE"] = (stack.count, "Number of frames summed")

            rows = efficient_band_rows(context.memory_budget_bytes, stack.count, nx)
            report = progress_span(context, sum_start, SUM_END)
            blank = 0
            with ImageProductWriter(stack.shape, header, stem=OUTPUT_STEM, temp_dir=context.temp_dir,
                                    provenance=context.provenance, inputs=basenames, metadata=metadata) as product:
                for y0, y1, band in stack.bands(rows):
                    # A fresh array per band: the compressor still reads earlier ones.
                    summed = sum_band(band, out=np.empty((y1 - y0, nx), dtype=np.float32))
                    blank += int(np.count_nonzero(np.isnan(summed)))
                    product.write_rows(y0, summed)
                    report(y1 / ny, f"Summing rows {y0 + 1}\N{EN DASH}{y1} of {ny}.")
                if mode != "reproject":  # here its WCS work overlaps the compression of the last bands
                    pointing = unaligned_pointing_warning(stack.frames, stack.shape,
                                                          "Choose stacking mode 'reproject' to align them.")
                    warnings.extend([pointing] if pointing else [])
                context.set_progress(SUM_END, "Writing the stacked image and previews.")
                output = product.finish()

        if blank:
            warnings.append(f"{blank} of {ny * nx} pixels are blank (NaN) because at least one frame has no "
                            "value there.")
        context.set_progress(1.0, "Done.")
        return OperationResult(output_files=[output], warnings=warnings)
