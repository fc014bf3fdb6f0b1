"""Stacking: the pixel-wise sum of frames, as they are or reprojected onto one celestial grid.

``simple`` adds the frames pixel by pixel over their common region from the origin. ``reproject``
first reprojects every frame onto one optimal TAN grid covering them all, then sums the bounding
box of the region every frame covers; the product's header carries that grid's WCS. A pixel is
summed only where every frame has a value (NaN elsewhere).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations.base import fits_input
from data_operations.framework import Alignment, StackOperation
from data_operations.framework.headers import Keywords
from data_operations.kernels.combine import sum_band

STACKING_MODES = ("simple", "reproject")


class Stacking(StackOperation):
    output_stem = "stack"
    product_noun = "stack"
    band_verb = "Summing"
    unaligned_hint = "Choose stacking mode 'reproject' to align them."

    def __init__(self, input_data: dict[str, Any]):
        super().__init__(input_data)
        self.blank_pixels = 0

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

    def alignment(self) -> Alignment:
        return Alignment.COMMON_GRID if self.value("stacking_mode") == "reproject" else Alignment.NONE

    def output_keywords(self, stack) -> Keywords:
        return {"STACKMOD": (self.value("stacking_mode"), "Stacking mode"),
                "NCOMBINE": (stack.count, "Number of frames summed")}

    def combine_band(self, band: np.ndarray, out: np.ndarray, planes: dict[str, np.ndarray]) -> None:
        sum_band(band, out=out)
        self.blank_pixels += int(np.count_nonzero(np.isnan(out)))

    def closing_notes(self, shape: tuple[int, int]) -> list[str]:
        if not self.blank_pixels:
            return []
        return [f"{self.blank_pixels} of {shape[0] * shape[1]} pixels are blank (NaN) because at least one frame "
                "has no value there."]
