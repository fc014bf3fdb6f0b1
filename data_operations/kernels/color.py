"""Colour composites: each channel stretched between its limits, tinted with its colour, and added.

A channel's pixel value ``v`` becomes ``t = clip((v - zmin) / (zmax - zmin), 0, 1)`` (NaN -> 0);
its contribution to red, green and blue is ``t * r / 255``, ``t * g / 255``, ``t * b / 255``. The
contributions of all channels are added, clipped to 1 and written as 8-bit RGB (x 255, rounded).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RGB = tuple[float, float, float]


def stretch_to_unit(data: np.ndarray, zmin: float, zmax: float) -> np.ndarray:
    """Linear stretch of ``data`` to 0..1 between ``zmin`` and ``zmax``; NaN becomes 0. float32."""
    if not zmax > zmin:
        raise ValueError(f"zmax must exceed zmin; got zmin={zmin}, zmax={zmax}.")
    unit = np.subtract(data, np.float32(zmin), dtype=np.float32)
    unit *= np.float32(1.0 / (zmax - zmin))
    np.nan_to_num(unit, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(unit, 0.0, 1.0, out=unit)
    return unit


def composite_band(band: np.ndarray, limits: Sequence[tuple[float, float]], colors: Sequence[RGB],
                   out: np.ndarray | None = None) -> np.ndarray:
    """8-bit RGB (rows, cols, 3) of the channels in ``band`` (channels, rows, cols).

    ``limits[i]`` is channel i's (zmin, zmax), ``colors[i]`` its (r, g, b) in 0..255.
    """
    if band.ndim != 3:
        raise ValueError(f"band must have shape (channels, rows, cols); got {band.shape}.")
    channels, rows, cols = band.shape
    if not len(limits) == len(colors) == channels:
        raise ValueError("limits and colors must give one entry per channel.")
    if out is None:
        out = np.empty((rows, cols, 3), dtype=np.uint8)
    light = np.zeros((rows, cols, 3), dtype=np.float32)
    for channel, ((zmin, zmax), color) in enumerate(zip(limits, colors, strict=True)):
        unit = stretch_to_unit(band[channel], zmin, zmax)
        for component in range(3):
            weight = np.float32(color[component] / 255.0)
            if weight:
                light[..., component] += unit * weight
    np.clip(light, 0.0, 1.0, out=light)
    light *= np.float32(255.0)
    np.rint(light, out=light)
    np.copyto(out, light, casting="unsafe")
    return out
