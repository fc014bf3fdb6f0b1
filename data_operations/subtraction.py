"""Subtraction: one frame subtracted from each input, one product per input.

Each input and the subtraction frame are read together band by band over their common region
(cropped from the origin when their sizes differ).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations._image_operation import ImageOperation, progress_span
from data_operations.base import OperationResult, fits_input
from data_operations.context import OperationContext
from data_operations.frames import FrameStack, efficient_band_rows
from data_operations.frames.alignment import unaligned_pointing_warning
from data_operations.products import build_output_header, shared_metadata
from data_operations.products.image_product import write_image_product

FETCH_END = 0.2


class Subtraction(ImageOperation):
    @staticmethod
    def name() -> str:
        return "Subtraction"

    @staticmethod
    def description() -> str:
        return (
            "Subtracts one frame (for instance a sky or reference image) from each input frame, pixel by "
            "pixel over their common region. Produces one image per input."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "input_files": fits_input("Input Files", "The frames to subtract from", minimum=1, maximum=999),
            "subtraction_file": fits_input(
                "Subtraction File", "The frame subtracted from each input", minimum=1, maximum=1
            ),
        })

    def operate(self, context: OperationContext) -> OperationResult:
        paths, basenames = self.fetch(context, "input_files", start=0.0, end=FETCH_END * 0.9)
        [subtrahend_path], [subtrahend_name] = self.fetch(context, "subtraction_file", start=FETCH_END * 0.9,
                                                          end=FETCH_END, label="subtraction file")
        report = progress_span(context, FETCH_END, 1.0)
        outputs, warnings = [], []
        for position, (path, basename) in enumerate(zip(paths, basenames, strict=True)):
            step = f"Subtracting {subtrahend_name} from frame {position + 1} of {len(paths)} ({basename})."
            report(position / len(paths), step)
            with FrameStack([path, subtrahend_path], [basename, subtrahend_name]) as pair:
                self.admit(context, shape=pair.shape, frame_count=2)
                ny, nx = pair.shape
                difference = np.empty((ny, nx), dtype=np.float32)
                rows = efficient_band_rows(context.memory_budget_bytes - difference.nbytes, 2, nx)
                for y0, y1, band in pair.bands(rows):
                    np.subtract(band[0], band[1], out=difference[y0:y1])
                header = build_output_header(pair.headers[0])
                metadata = shared_metadata(pair.headers)
                if pair.cropped:
                    warnings.append(f"{basename}: " + self.note_crop(header, pair.shape, "difference"))
                pointing = unaligned_pointing_warning(pair.frames, pair.shape,
                                                      "The difference will show residuals of misaligned sources.")
                if pointing:
                    warnings.append(f"{basename}: {pointing}")
            header["DLSUBTR"] = (subtrahend_name, "Frame subtracted")
            outputs.append(write_image_product(
                difference, header, stem=f"subtracted-{position + 1}", temp_dir=context.temp_dir,
                provenance=context.provenance, inputs=[basename, subtrahend_name], metadata=metadata,
            ))
            del difference
        report(1.0, "Done.")
        return OperationResult(output_files=outputs, warnings=warnings)
