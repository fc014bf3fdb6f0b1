"""Normalization: every frame divided by its own median, one product per input.

The median needs every pixel, so one whole frame is in memory at a time. The median used is
recorded in the product header as ``DLNORMED``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations.base import fits_input
from data_operations.errors import OperationError
from data_operations.frames import FrameInfo
from data_operations.framework import FrameByFrameOperation, FrameProduct
from data_operations.kernels.statistics import finite_median


class Normalization(FrameByFrameOperation):
    output_stem = "normalized"
    progress_verb = "Normalizing"
    # The frame and the writer's working copy.
    whole_image_copies = 2.0

    @staticmethod
    def name() -> str:
        return "Normalization"

    @staticmethod
    def description() -> str:
        return (
            "Divides every input frame by its own median, so frames of different exposure or sky level "
            "become comparable (the median of each result is 1). Produces one image per input."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "input_files": fits_input("Input Files", "The frames to normalize", minimum=1, maximum=999),
        })

    def process(self, image: np.ndarray, frame: FrameInfo, references: list[np.ndarray]) -> FrameProduct:
        median = finite_median(image)
        if median is None:
            raise OperationError(f"Frame {frame.display_name} has no finite pixels, so it has no median to "
                                 "normalize by.")
        if median == 0:
            raise OperationError(f"Frame {frame.display_name} has a median of 0, so it cannot be normalized by it.")
        image /= np.float32(median)
        return FrameProduct(image, {"DLNORMED": (median, "Median the frame was divided by")})
