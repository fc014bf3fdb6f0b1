"""Reading one frame's whole ``SCI`` image, for steps that need all of it at once.

Reprojection and whole-image statistics need a full frame; operations still read one frame at a
time, never N. The image is assembled from ``FrameStack`` bands (so errors name the frame the same
way) into an array owned by the caller, which stays valid after the stack is closed.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from data_operations.frames.reader import FrameInfo, FrameStack

READ_BAND_BYTES = 16 * 1024 * 1024  # rows read per pass; the image itself is the only full copy


def read_image(path: Path | str, name: str | None = None) -> tuple[np.ndarray, FrameInfo]:
    """The frame's science image as float32 (ny, nx) and its ``FrameInfo`` (header, shape, name).

    Infinite pixels are NaN in the image; ``FrameInfo.infinite_count`` says how many there were.
    """
    with FrameStack([path], None if name is None else [name]) as stack:
        ny, nx = stack.shape
        image = np.empty((ny, nx), dtype=np.float32)
        rows = max(1, READ_BAND_BYTES // (nx * image.itemsize))
        for y0, y1, band in stack.bands(rows):
            image[y0:y1] = band[0]
        return image, dataclasses.replace(stack.frames[0], infinite_count=stack.infinite_counts[0])
