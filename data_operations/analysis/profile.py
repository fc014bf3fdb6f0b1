"""Pixel values along a straight line, sampled once per pixel of its length."""
from __future__ import annotations

import math

import numpy as np


def sample_line(data: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Bilinearly interpolated values at ``ceil(length) + 1`` evenly spaced points from start to end.

    ``start`` and ``end`` are 0-based (column, row) positions; points are clamped onto the pixel
    centres grid, so a line touching the image border reads the border pixels. Only the pixels
    next to the line are read, which keeps this cheap on a memory-mapped frame.
    """
    rows, columns = data.shape
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    count = max(1, math.ceil(length)) + 1
    xs = np.clip(np.linspace(start[0], end[0], count), 0.0, columns - 1.0)
    ys = np.clip(np.linspace(start[1], end[1], count), 0.0, rows - 1.0)
    left = np.minimum(np.floor(xs).astype(np.int64), columns - 2) if columns > 1 else np.zeros(count, np.int64)
    bottom = np.minimum(np.floor(ys).astype(np.int64), rows - 2) if rows > 1 else np.zeros(count, np.int64)
    right = np.minimum(left + 1, columns - 1)
    top = np.minimum(bottom + 1, rows - 1)
    fx = xs - left
    fy = ys - bottom
    lower = (1.0 - fx) * data[bottom, left] + fx * data[bottom, right]
    upper = (1.0 - fx) * data[top, left] + fx * data[top, right]
    return (1.0 - fy) * lower + fy * upper


def line_length(start: tuple[float, float], end: tuple[float, float]) -> float:
    """Length of the line in FITS pixels."""
    return math.hypot(end[0] - start[0], end[1] - start[1])
