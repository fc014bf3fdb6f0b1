"""Median: the pixel-by-pixel NaN-aware median of a stack of frames.

Frames of different sizes are cropped to their common region from the origin; with ``align:
wcs`` they are first reprojected onto the first frame's grid. The C median network threads over
the band itself, so the framework hands it whole bands.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations.base import fits_input
from data_operations.framework import ALIGN_INPUT, StackOperation
from data_operations.kernels import nanmedian_band


class Median(StackOperation):
    output_stem = "median"
    product_noun = "median"

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

    def combine_band(self, band: np.ndarray, out: np.ndarray, planes: dict[str, np.ndarray]) -> None:
        nanmedian_band(band, out=out)
