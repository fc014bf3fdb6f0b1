"""Diagnostic pictures: a frame's pixels around the target with the apertures drawn on them.

Made from the pixels already read for measurement (no second read): the region holding the
target and its comparison stars is cropped, zscale-stretched, averaged down to at most 800 pixels
a side and kept as 8-bit; the circles are drawn once the ensemble is known. North (y) is up.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from data_operations.photometry.apertures import Radii
from data_operations.products import zscale_limits

MAX_SIDE = 800
MARGIN_PX = 10
JPEG_QUALITY = 85
TARGET_COLOUR, COMPARISON_COLOUR = (255, 165, 0), (0, 255, 255)


@dataclass
class Thumbnail:
    """A stretched, downsampled crop and how frame pixels map onto it."""

    pixels: np.ndarray  # uint8, y up
    x0: float
    y0: float
    factor: int

    def to_picture(self, x: float, y: float) -> tuple[float, float]:
        column = (x - self.x0 + 0.5) / self.factor
        row = self.pixels.shape[0] - (y - self.y0 + 0.5) / self.factor
        return column, row


def thumbnail(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, radii: Radii) -> Thumbnail:
    """The crop of ``image`` holding every (xs, ys) with its annulus, ready to draw on."""
    pad = radii.outer + MARGIN_PX
    finite = np.isfinite(xs) & np.isfinite(ys)
    ny, nx = image.shape
    x0 = max(0, int(math.floor(np.min(xs[finite]) - pad)))
    x1 = min(nx, int(math.ceil(np.max(xs[finite]) + pad)) + 1)
    y0 = max(0, int(math.floor(np.min(ys[finite]) - pad)))
    y1 = min(ny, int(math.ceil(np.max(ys[finite]) + pad)) + 1)
    factor = max(1, math.ceil(max(x1 - x0, y1 - y0) / MAX_SIDE))
    rows, cols = (y1 - y0) // factor, (x1 - x0) // factor
    crop = image[y0:y0 + rows * factor, x0:x0 + cols * factor].astype(np.float32)
    if factor > 1:
        crop = np.nanmean(crop.reshape(rows, factor, cols, factor), axis=(1, 3))
    low, high = zscale_limits(crop)
    scaled = np.clip((np.nan_to_num(crop, nan=low) - low) / max(high - low, 1e-12), 0.0, 1.0)
    return Thumbnail(pixels=np.flipud((scaled * 255).astype(np.uint8)), x0=x0, y0=y0, factor=factor)


def overlay_jpeg(thumb: Thumbnail, target: tuple[float, float], comparisons: list[tuple[float, float]],
                 radii: Radii) -> bytes:
    """The JPEG with the target's aperture and annulus (orange) and the comparison stars (cyan)."""
    picture = Image.fromarray(thumb.pixels, mode="L").convert("RGB")
    draw = ImageDraw.Draw(picture)
    legible = max(8.0, radii.aperture / thumb.factor)
    for x, y in comparisons:
        if math.isfinite(x) and math.isfinite(y):
            cx, cy = thumb.to_picture(x, y)
            draw.ellipse([cx - legible, cy - legible, cx + legible, cy + legible], outline=COMPARISON_COLOUR, width=2)
    cx, cy = thumb.to_picture(*target)
    for radius in (radii.aperture, radii.inner, radii.outer):
        r = max(radius / thumb.factor, 2.0)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=TARGET_COLOUR, width=2)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
