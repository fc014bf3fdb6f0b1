"""Combine: mean, median or sum of frames with outlier rejection (sigma clipping or min/max).

Each band is clipped and combined by the pure kernels in ``kernels.combine``. The product's
``SCI`` header records the method, the rejection and its thresholds and NCOMBINE; a ``REJECTED``
extension counts the samples rejected at each pixel.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations.base import fits_input
from data_operations.framework import ALIGN_INPUT, StackOperation
from data_operations.framework.headers import Keywords
from data_operations.kernels.combine import (
    COMBINE_METHODS,
    MAX_CLIP_ITERATIONS,
    REJECTION_METHODS,
    combine_band,
    rejected_counts,
    rejection_mask,
    working_copies,
)

REJECTED_EXTENSION = "REJECTED"
# What COMBMETH says: the sum with rejection is scaled to every frame, and the header names it so.
SCALED_SUM = "scaled-sum"
COMBINATION_COMMENTS = {"mean": "Mean of the kept samples", "median": "Median of the kept samples",
                        "sum": "Mean of the kept samples x NCOMBINE"}


class Combine(StackOperation):
    output_stem = "combine"
    product_noun = "combined image"
    split_band_across_cores = True
    extra_planes = {REJECTED_EXTENSION: (np.int16, "Number of samples rejected at each pixel")}
    # The result, the int16 rejection counts and the writer's working copy.
    whole_image_copies = 2.5

    @staticmethod
    def name() -> str:
        return "Combine"

    @staticmethod
    def description() -> str:
        return (
            "Combines frames pixel by pixel into one deeper image with the mean, median or sum, after "
            "rejecting outliers such as cosmic rays and satellite trails. Sigma clipping rejects samples "
            "further than sigma_low / sigma_high robust standard deviations (from the median and the "
            "median absolute deviation) from the median, for up to max_iterations passes, exactly as "
            "astropy's sigma_clip; min/max rejects the lowest and highest finite sample of every pixel. "
            "Frames can first be aligned on the sky using their WCS."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "input_files": fits_input("Input Files", "The frames to combine", minimum=2, maximum=999),
            "method": {
                "name": "Method",
                "description": "How the kept samples of each pixel are combined. 'sum' is a sum scaled to all "
                               "frames (the mean of the kept samples times the number of frames), so pixels "
                               "that lost samples to rejection or NaN stay comparable with the rest",
                "type": "select",
                "options": list(COMBINE_METHODS),
                "default": "mean",
            },
            "rejection": {
                "name": "Rejection",
                "description": "How outlying samples are rejected before combining",
                "type": "select",
                "options": list(REJECTION_METHODS),
                "default": "sigma_clip",
            },
            "sigma_low": {
                "name": "Sigma Low",
                "description": "Reject samples this many standard deviations below the median",
                "type": "float",
                "default": 3.0,
                "minimum": 0.1,
            },
            "sigma_high": {
                "name": "Sigma High",
                "description": "Reject samples this many standard deviations above the median",
                "type": "float",
                "default": 3.0,
                "minimum": 0.1,
            },
            "max_iterations": {
                "name": "Max Iterations",
                "description": "At most this many sigma-clipping passes (astropy's maxiters)",
                "type": "int",
                "default": MAX_CLIP_ITERATIONS,
                "minimum": 1,
                "maximum": 100,
            },
            "align": dict(ALIGN_INPUT),
        })

    def band_working_copies(self) -> float:
        return working_copies(self.value("method"), self.value("rejection"))

    def output_keywords(self, stack) -> Keywords:
        method = self.value("method")
        keywords = {"COMBMETH": (SCALED_SUM if method == "sum" else method, COMBINATION_COMMENTS[method]),
                    "REJECT": (self.value("rejection"), "Outlier rejection")}
        if self.value("rejection") == "sigma_clip":
            keywords["SIGLOW"] = (float(self.value("sigma_low")), "Lower clipping threshold (sigma)")
            keywords["SIGHIGH"] = (float(self.value("sigma_high")), "Upper clipping threshold (sigma)")
            keywords["SIGMAXIT"] = (int(self.value("max_iterations")), "Most sigma-clipping passes")
        keywords["NCOMBINE"] = (stack.count, "Number of frames combined")
        keywords["DLALIGN"] = (self.value("align"), "Alignment before combining")
        return keywords

    def band_message(self) -> str:
        return f" ({self.value('method')}, {self.value('rejection')})"

    def combine_band(self, band: np.ndarray, out: np.ndarray, planes: dict[str, np.ndarray]) -> None:
        mask = rejection_mask(band, self.value("rejection"), sigma_low=float(self.value("sigma_low")),
                              sigma_high=float(self.value("sigma_high")),
                              max_iterations=int(self.value("max_iterations")))
        combine_band(band, self.value("method"), mask, out=out)
        planes[REJECTED_EXTENSION][...] = rejected_counts(mask, out.shape)
