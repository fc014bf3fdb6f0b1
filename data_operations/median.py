"""Median: the pixel-by-pixel NaN-aware median of a stack of frames.

Frames are combined a band of rows at a time within the context's memory budget; frames of
different sizes are cropped to their common region from the origin. Decoder threads fill the
next band while this one is combined, and each finished band of the median goes straight to the
compressor threads of the output file and to the preview reductions, so decoding, combining,
compressing and previewing overlap; only the JPEG encoding is left once the last band is done.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations._image_operation import ALIGN_INPUT, progress_span
from data_operations.base import BaseDataOperation, OperationResult, fits_input
from data_operations.context import OperationContext
from data_operations.frames import FrameStack, efficient_band_rows
from data_operations.frames.alignment import open_frames, unaligned_pointing_warning
from data_operations.kernels import nanmedian_band
from data_operations.products import build_output_header, shared_metadata
from data_operations.products.image_product import ImageProductWriter

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
        return cls.wizard({
            "input_files": fits_input("Input Files", "The input files to operate on", minimum=2, maximum=999),
            "align": dict(ALIGN_INPUT),
        })

    def operate(self, context: OperationContext) -> OperationResult:
        items = self.files("input_files")
        align = self.value("align")
        fetch_end = FETCH_SHARE / 2 if align == "wcs" else FETCH_SHARE  # aligning takes the rest
        paths = []
        for position, item in enumerate(items):
            context.set_progress(fetch_end * position / len(items),
                                 f"Fetching input {position + 1} of {len(items)}.")
            paths.append(context.input_path(item))
        basenames = [item["basename"] for item in items]

        warnings: list[str] = []
        with open_frames(paths, basenames, align=align, workdir=context.temp_dir / "aligned",
                         memory_budget_bytes=context.memory_budget_bytes,
                         progress=progress_span(context, fetch_end, FETCH_SHARE)) as stack:
            self.admit(context, shape=stack.shape, frame_count=stack.count)
            header = build_output_header(stack.frames[0].header)
            metadata = shared_metadata(stack.headers)
            if stack.cropped:
                ny, nx = stack.shape
                note = (f"The input frames differ in size; the median covers their common region "
                        f"of {nx}x{ny} pixels from the origin.")
                warnings.append(note)
                header["DLCROP"] = (True, "Inputs cropped to common region")
                header.add_history(note)
            with ImageProductWriter(stack.shape, header, stem=OUTPUT_STEM, temp_dir=context.temp_dir,
                                    provenance=context.provenance, inputs=basenames, metadata=metadata) as product:
                self._combine(stack, context, product)
                if align != "wcs":  # here its WCS work overlaps the compression of the last bands
                    pointing = unaligned_pointing_warning(stack.frames, stack.shape,
                                                          "Choose align 'wcs' to align them on the sky.")
                    warnings.extend([pointing] if pointing else [])
                context.set_progress(FETCH_SHARE + COMBINE_SHARE, "Writing the median image and previews.")
                output = product.finish()
        context.set_progress(1.0, "Done.")
        return OperationResult(output_files=[output], warnings=warnings)

    @staticmethod
    def _combine(stack: FrameStack, context: OperationContext, product: ImageProductWriter) -> None:
        """The median, computed band by band; each band goes to the product as soon as it is done."""
        ny, nx = stack.shape
        rows = efficient_band_rows(context.memory_budget_bytes, stack.count, nx)
        for y0, y1, band in stack.bands(rows):
            # A fresh array per band: the compressor still reads earlier ones while this is computed.
            product.write_rows(y0, nanmedian_band(band, out=np.empty((y1 - y0, nx), dtype=np.float32)))
            context.set_progress(FETCH_SHARE + COMBINE_SHARE * y1 / ny,
                                 f"Combining rows {y0 + 1}\N{EN DASH}{y1} of {ny}.")
