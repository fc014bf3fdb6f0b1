"""A colour composite's products: full-resolution TIFF, large JPEG and small thumbnail (no FITS).

The RGB image is 8-bit with FITS orientation (row 0 at the bottom); files are flipped so y points
up, as in the greyscale previews. Previews are box-averaged (``Image.reduce``) by the smallest
integer factor that brings the longest side within the size.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, features

from data_operations.context import OutputFile

JPEG_QUALITY = 90
LARGE_SIZE = 2048
SMALL_SIZE = 256


def _reduced(image: Image.Image, max_side: int) -> Image.Image:
    factor = max(1, math.ceil(max(image.size) / max_side))
    return image if factor == 1 else image.reduce(factor)


def write_color_products(rgb: np.ndarray, *, stem: str, temp_dir: Path,
                         metadata: dict | None = None) -> OutputFile:
    """Write ``<stem>.tif``, ``<stem>-large.jpg`` and ``<stem>-small.jpg`` from ``rgb`` (ny, nx, 3) uint8."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8 of shape (ny, nx, 3); got {rgb.dtype} {rgb.shape}.")
    tif_path = temp_dir / f"{stem}.tif"
    large_path = temp_dir / f"{stem}-large.jpg"
    small_path = temp_dir / f"{stem}-small.jpg"
    image = Image.fromarray(np.ascontiguousarray(rgb[::-1]))
    compression = "tiff_deflate" if features.check("libtiff") else None
    image.save(tif_path, format="TIFF", compression=compression)
    _reduced(image, LARGE_SIZE).save(large_path, format="JPEG", quality=JPEG_QUALITY)
    _reduced(image, SMALL_SIZE).save(small_path, format="JPEG", quality=JPEG_QUALITY)
    return OutputFile(fits_path=None, large_jpg_path=large_path, small_jpg_path=small_path, tif_path=tif_path,
                      type="image", metadata=dict(metadata or {}))
