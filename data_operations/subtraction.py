"""Subtraction: one frame subtracted from each input, one product per input.

Each input and the subtraction frame are cropped to their common region from the origin when
their sizes differ.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations.base import fits_input
from data_operations.frames import FrameInfo
from data_operations.framework import FrameByFrameOperation, FrameProduct


class Subtraction(FrameByFrameOperation):
    reference_keys = ("subtraction_file",)
    output_stem = "subtracted"
    product_noun = "difference"
    progress_verb = "Subtracting from"
    unaligned_hint = "The difference will show residuals of misaligned sources."

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

    def process(self, image: np.ndarray, frame: FrameInfo, references: list[np.ndarray]) -> FrameProduct:
        [subtrahend] = references
        np.subtract(image, subtrahend, out=image)
        return FrameProduct(image, {"DLSUBTR": (self.files("subtraction_file")[0]["basename"], "Frame subtracted")})
