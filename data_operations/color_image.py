"""Color Image: a composite of 1 to 6 frames, each stretched, tinted with its colour and added.

Each channel is stretched linearly between its ``zmin`` and ``zmax`` (zscale limits of its image
when absent), multiplied by its colour and added (see ``kernels.color``). Products: a
full-resolution TIFF, a large JPEG and a small thumbnail, ``type: "image"``, no FITS.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from data_operations.base import fits_input
from data_operations.framework import CompositeOperation
from data_operations.kernels.color import composite_band
from data_operations.products import zscale_limits


class ColorImage(CompositeOperation):
    input_key = "color_channels"
    output_stem = "color"
    # Per channel and pixel while composing: the band sample, its stretched copy, and the float32
    # RGB light (3 values, shared by all channels, counted once per channel to stay on the safe side).
    compose_copies_per_channel = 3

    def __init__(self, input_data: dict[str, Any]):
        super().__init__(input_data)
        self.limits: list[tuple[float, float]] = []
        self.colors: list[tuple[float, float, float]] = []

    @staticmethod
    def name() -> str:
        return "Color Image"

    @staticmethod
    def description() -> str:
        return (
            "Makes a colour picture from 1 to 6 frames: each frame is stretched between its own limits, "
            "tinted with the colour you pick and added to the others. Frames are aligned on the sky onto "
            "the first using their WCS. The result is a picture (JPEG and TIFF), not a FITS image."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "color_channels": fits_input(
                "Color Channels", "The frames to composite, each with a colour and display limits",
                minimum=1, maximum=6, color_picker=True, include_custom_scale=True,
            ),
        })

    def prepare_channel(self, item: dict[str, Any], load_image: Callable[[], np.ndarray]) -> None:
        """The channel's colour and (zmin, zmax): as given, or the zscale limits of its image."""
        self.colors.append((item["color"]["r"], item["color"]["g"], item["color"]["b"]))
        if item.get("zmin") is not None and item.get("zmax") is not None:
            self.limits.append((float(item["zmin"]), float(item["zmax"])))
            return
        low, high = zscale_limits(load_image())
        self.limits.append((low, high if high > low else low + 1.0))

    def compose_band(self, band: np.ndarray, out: np.ndarray) -> None:
        composite_band(band, self.limits, self.colors, out=out)
