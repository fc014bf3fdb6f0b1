"""Reading one frame's whole ``SCI`` image, for steps that need all of it at once.

Reprojection and whole-image statistics need a full frame; operations still read one frame at a
time, never N. The image is assembled from ``FrameStack`` bands (so errors name the frame the same
way) into an array owned by the caller, which stays valid after the stack is closed.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import BinaryIO

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


def write_image_npy(path: Path | str, handle: BinaryIO, name: str | None = None) -> FrameInfo:
    """Stream the frame's science image into ``handle`` as a float32 ``.npy`` file, band by band.

    The same pixels as :func:`read_image` without holding the whole image in memory: writing each
    band as it is decoded spares allocating (and first touching) a full-size array.
    """
    with FrameStack([path], None if name is None else [name]) as stack:
        ny, nx = stack.shape
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                  "shape": (ny, nx)}
        np.lib.format.write_array_header_1_0(handle, header)
        rows = max(1, READ_BAND_BYTES // (nx * np.dtype(np.float32).itemsize))
        for _, _, band in stack.bands(rows):
            handle.write(band[0].data)
        return dataclasses.replace(stack.frames[0], infinite_count=stack.infinite_counts[0])
