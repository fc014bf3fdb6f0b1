"""JPEG previews of a product: zscale-stretched, area-averaged, y up.

Everything works on bounded pieces of the image: zscale sees a strided sample and downsampling
runs over strips of rows, so a 4096x4096 float32 frame never gets a full-size float64 (or even
float32) copy.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.visualization import ZScaleInterval
from PIL import Image

DEFAULT_LIMITS = (0.0, 1.0)
JPEG_QUALITY = 90
STRIP_OUTPUT_ROWS = 128  # output rows produced per pass while downsampling


def zscale_limits(data: np.ndarray, *, sample_size: int = 20_000) -> tuple[float, float]:
    """IRAF zscale display limits estimated from about ``sample_size`` finite pixels.

    The sample is a regular grid (every ``step``-th row and column), so it is a view plus one copy
    of the finite values only. All-NaN (or empty) data gives (0.0, 1.0).
    """
    if data.size == 0:
        return DEFAULT_LIMITS
    step = max(1, math.isqrt(data.size // max(1, sample_size)))
    grid = data[::step, ::step]
    sample = grid[np.isfinite(grid)]
    if sample.size == 0:
        return DEFAULT_LIMITS
    low, high = ZScaleInterval(n_samples=sample.size).get_limits(sample)
    return float(low), float(high)


def _block_factor(shape: tuple[int, int], max_side: int) -> int:
    """Smallest integer factor that brings the longest side down to ``max_side`` or less."""
    return max(1, math.ceil(max(shape) / max(1, max_side)))


def _area_average(data: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor`` x ``factor`` block over its finite pixels (NaN if none), float32.

    Edge blocks may be partial (``np.add.reduceat``), so every pixel counts and any shape works.
    Runs strip by strip, so temporaries are at most ``STRIP_OUTPUT_ROWS * factor`` rows tall.
    """
    if factor == 1:
        return np.asarray(data, dtype=np.float32)
    rows, cols = data.shape
    column_starts = np.arange(0, cols, factor)
    result = np.empty((math.ceil(rows / factor), len(column_starts)), dtype=np.float32)
    for first in range(0, result.shape[0], STRIP_OUTPUT_ROWS):
        last = min(result.shape[0], first + STRIP_OUTPUT_ROWS)
        strip = data[first * factor : min(rows, last * factor)]
        if _average_whole_blocks(strip, factor, result[first:last]):
            continue
        row_starts = np.arange(0, strip.shape[0], factor)
        finite = np.isfinite(strip)
        values = np.where(finite, strip, np.float32(0)).astype(np.float32, copy=False)
        totals = np.add.reduceat(np.add.reduceat(values, row_starts, axis=0), column_starts, axis=1)
        counts = np.add.reduceat(
            np.add.reduceat(finite, row_starts, axis=0, dtype=np.int32), column_starts, axis=1
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(totals, counts, out=result[first:last], casting="unsafe")
    return result


def _average_whole_blocks(strip: np.ndarray, factor: int, out: np.ndarray) -> bool:
    """The fast path: when the strip is all finite and tiles into whole blocks, a reshaped mean.

    Returns False (having written nothing) when it does not apply.
    """
    rows, cols = strip.shape
    if rows % factor or cols % factor or not np.isfinite(strip.sum(dtype=np.float64)):
        return False
    blocks = strip.reshape(rows // factor, factor, cols // factor, factor)
    np.multiply(blocks.sum(axis=(1, 3), dtype=np.float32), np.float32(1.0 / (factor * factor)),
                out=out, casting="unsafe")
    return True


def _to_8bit(image: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """Linear stretch between ``limits`` to 0..255; NaN becomes 0 (black). One float32 temporary."""
    low, high = limits
    span = high - low if high > low else 1.0
    scaled = np.subtract(image, np.float32(low), dtype=np.float32)
    scaled *= np.float32(255.0 / span)
    np.nan_to_num(scaled, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8)


def _save_jpeg(pixels: np.ndarray, path: Path) -> None:
    # FITS row 0 is the bottom of the sky image; JPEG row 0 is the top: flip so y points up.
    Image.fromarray(np.ascontiguousarray(pixels[::-1]), mode="L").save(
        Path(path), format="JPEG", quality=JPEG_QUALITY
    )


def write_jpeg_previews(
    data: np.ndarray,
    *,
    large_path: Path,
    small_path: Path,
    large_size: int = 2048,
    small_size: int = 256,
    limits: tuple[float, float] | None = None,
) -> None:
    """Write the large and small greyscale previews, longest side at most the given size."""
    if data.ndim != 2 or data.size == 0:
        raise ValueError(f"data must be a non-empty 2-D image; got shape {data.shape}.")
    limits = limits if limits is not None else zscale_limits(data)
    for path, size in ((large_path, large_size), (small_path, small_size)):
        reduced = _area_average(data, _block_factor(data.shape, size))
        _save_jpeg(_to_8bit(reduced, limits), path)
