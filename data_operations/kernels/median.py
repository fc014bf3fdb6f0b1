"""NaN-aware median of a stack of frames, one row band at a time.

``np.nanmedian`` is slow on a stack axis (it masks and copies per call) and warns on all-NaN
pixels. Here the band is copied once into pixel-major order, so each pixel's N samples are
contiguous, and sorted along that short axis; NaNs sort last, so a pixel with k finite samples has
its median at positions (k-1)//2 and k//2. Pixels without NaNs (nearly all of them) are read
straight from the two middle planes; only pixels with NaNs are gathered individually.
"""
from __future__ import annotations

import numpy as np


def nanmedian_band(band: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Median over axis 0 of ``band`` (N, rows, cols), ignoring NaNs; all-NaN pixels give NaN.

    Equals ``np.nanmedian(band, axis=0)`` computed in float32 (the mean of the two middle values
    of an even count is ``(a + b) / 2`` in float32, as numpy does). ``band`` is not modified; the
    working copy is one band-sized float32 array. ``out`` (rows, cols) receives the result.
    """
    if band.ndim != 3:
        raise ValueError(f"band must have shape (frames, rows, cols); got {band.shape}.")
    count, rows, cols = band.shape
    if out is None:
        out = np.empty((rows, cols), dtype=np.float32)
    elif out.shape != (rows, cols):
        raise ValueError(f"out must have shape {(rows, cols)}; got {out.shape}.")
    if count == 0:
        out.fill(np.nan)
        return out

    samples = np.empty((rows, cols, count), dtype=np.float32)  # pixel-major: samples contiguous
    np.copyto(samples, np.moveaxis(band, 0, -1), casting="unsafe")
    samples.sort(axis=-1)

    with np.errstate(over="ignore", invalid="ignore"):
        _middle_of_sorted(samples[..., (count - 1) // 2], samples[..., count // 2], count % 2 == 1, out)
        has_nan = np.isnan(samples[..., -1])
        if has_nan.any():
            _fix_pixels_with_nans(samples, has_nan, out)
    return out


def _middle_of_sorted(lower: np.ndarray, upper: np.ndarray, odd: np.ndarray | bool,
                      out: np.ndarray) -> None:
    """``lower`` where the count is odd, else ``(lower + upper) / 2`` (float32, like numpy)."""
    np.add(lower, upper, out=out, casting="unsafe")
    np.multiply(out, np.float32(0.5), out=out)
    np.copyto(out, lower, where=odd, casting="unsafe")


def _fix_pixels_with_nans(samples: np.ndarray, has_nan: np.ndarray, out: np.ndarray) -> None:
    """Recompute the pixels whose sample count is reduced by NaNs (NaNs are sorted last)."""
    pixel_rows, pixel_cols = np.nonzero(has_nan)
    pixel_samples = samples[pixel_rows, pixel_cols]  # (k, N), only these pixels
    finite_count = pixel_samples.shape[1] - np.count_nonzero(np.isnan(pixel_samples), axis=1)
    lower_index = np.maximum(finite_count - 1, 0) // 2
    upper_index = finite_count // 2
    picks = np.arange(len(pixel_samples))
    lower = pixel_samples[picks, lower_index]
    upper = pixel_samples[picks, upper_index]
    middle = np.empty_like(lower)
    # All-NaN pixels: finite_count 0 picks NaN at index 0, so the result is NaN with no warning.
    _middle_of_sorted(lower, upper, finite_count % 2 == 1, middle)
    out[pixel_rows, pixel_cols] = middle
