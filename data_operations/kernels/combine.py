"""Combining a row band of frames, with optional outlier rejection (cosmic rays, satellite trails).

Every function takes one band ``(frames, rows, cols)`` and returns per-pixel results, so an
operation keeps memory bounded by the band size whatever the number of frames. NaN samples are
missing data: they are never rejected, never counted as rejected and never enter a statistic.

Rejection follows the usual combiner recipes:

- ``sigma_clip``: per pixel, the centre is the median of the kept samples and the spread the
  median absolute deviation scaled to a Gaussian sigma (x 1.4826); samples below
  ``centre - sigma_low * spread`` or above ``centre + sigma_high * spread`` are rejected, and the
  statistics are recomputed on the survivors until nothing more is rejected. Median and MAD are
  robust, so one huge cosmic ray cannot inflate the spread and hide itself. Where more than half
  the samples are identical the spread is 0 and every differing sample is rejected.
- ``minmax``: per pixel, the lowest and the highest finite sample are rejected (only where at
  least three finite samples exist, so something always remains).
"""
from __future__ import annotations

import numpy as np

from data_operations.kernels._network import kept_sums, sigma_clip
from data_operations.kernels.median import nanmedian_band, network_table

COMBINE_METHODS = ("mean", "median", "sum")
REJECTION_METHODS = ("none", "sigma_clip", "minmax")
MAX_CLIP_ITERATIONS = 10
MINMAX_MIN_SAMPLES = 3


def working_copies(method: str, rejection: str) -> float:
    """Memory that rejecting and combining one band takes beyond the band, in band-sized float32 arrays.

    The bool rejection mask is a quarter of the band (the C kernels' own buffers are per block of
    pixels); the median of kept samples copies the band with NaNs in place of the rejected; the
    min/max search makes two filled copies and a finite-mask.
    """
    copies = 0.0 if rejection == "none" else 0.25
    copies += 2.25 if rejection == "minmax" else 0.0
    copies += 1.0 if method == "median" and rejection != "none" else 0.0
    return copies


def _check_band(band: np.ndarray) -> None:
    if band.ndim != 3:
        raise ValueError(f"band must have shape (frames, rows, cols); got {band.shape}.")


def sigma_clip_mask(band: np.ndarray, *, sigma_low: float = 3.0, sigma_high: float = 3.0,
                    max_iterations: int = MAX_CLIP_ITERATIONS) -> np.ndarray:
    """Boolean mask (same shape as ``band``), True for samples rejected by iterative sigma clipping.

    Runs in C (``_network.c``) without the GIL. The first pass takes every pixel's median and MAD
    with the median network over blocks of pixels; only pixels that lose a sample (about a quarter,
    with 10 frames) or hold NaNs are sorted and iterated one by one. Clipping keeps the samples
    between two limits, so a pixel's survivors are always a run of its sorted samples, and each
    later pass only moves the two ends of that run. Statistics are float32, as numpy's would be.
    """
    _check_band(band)
    if sigma_low <= 0 or sigma_high <= 0:
        raise ValueError("sigma_low and sigma_high must be positive.")
    count, rows, cols = band.shape
    planes = band.reshape(count, rows * cols).astype(np.float32, copy=False)
    if planes.strides[1] != planes.itemsize:
        planes = np.ascontiguousarray(planes)
    rejected = np.empty((count, rows * cols), dtype=bool)
    sigma_clip(planes, network_table(count, sort=True), network_table(count), sigma_low, sigma_high,
               max(1, max_iterations), rejected)
    return rejected.reshape(count, rows, cols)


def minmax_mask(band: np.ndarray) -> np.ndarray:
    """Boolean mask, True for the lowest and the highest finite sample of each pixel.

    Pixels with fewer than three finite samples keep all of them. Ties pick the first lowest and
    the last highest sample, so two different samples are rejected even when all are equal.
    """
    _check_band(band)
    count = band.shape[0]
    finite = np.isfinite(band)
    eligible = finite.sum(axis=0) >= MINMAX_MIN_SAMPLES
    lowest = np.argmin(np.where(finite, band, np.inf), axis=0)
    highest = count - 1 - np.argmax(np.where(finite, band, -np.inf)[::-1], axis=0)
    rejected = np.zeros(band.shape, dtype=bool)
    _mark(rejected, lowest, eligible)
    _mark(rejected, highest, eligible)
    return rejected


def _mark(rejected: np.ndarray, index: np.ndarray, where: np.ndarray) -> None:
    """Set ``rejected[index[r, c], r, c] = True`` where ``where[r, c]``, keeping earlier marks."""
    current = np.take_along_axis(rejected, index[None], axis=0)
    np.put_along_axis(rejected, index[None], current | where[None], axis=0)


def rejection_mask(band: np.ndarray, rejection: str, *, sigma_low: float = 3.0,
                   sigma_high: float = 3.0) -> np.ndarray | None:
    """The mask for ``rejection`` (one of REJECTION_METHODS); None when nothing is rejected."""
    if rejection == "none":
        return None
    if rejection == "sigma_clip":
        return sigma_clip_mask(band, sigma_low=sigma_low, sigma_high=sigma_high)
    if rejection == "minmax":
        return minmax_mask(band)
    raise ValueError(f"Unknown rejection '{rejection}'; expected one of {', '.join(REJECTION_METHODS)}.")


def combine_band(band: np.ndarray, method: str, rejected: np.ndarray | None = None,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Mean, median or sum over axis 0 of the finite samples not ``rejected``; float32 (rows, cols).

    ``sum`` is the mean of the kept samples times the number of frames: a rejected or missing
    sample is replaced by the mean of the others instead of leaving a darker pixel (where nothing
    is missing or rejected it is the plain sum). A pixel with no kept sample is NaN.
    """
    _check_band(band)
    if method not in COMBINE_METHODS:
        raise ValueError(f"Unknown method '{method}'; expected one of {', '.join(COMBINE_METHODS)}.")
    count, rows, cols = band.shape
    if out is None:
        out = np.empty((rows, cols), dtype=np.float32)
    if method == "median":
        kept = band if rejected is None else np.where(rejected, np.float32(np.nan), band)
        return nanmedian_band(kept, out=out)
    planes = band.reshape(count, rows * cols).astype(np.float32, copy=False)
    if planes.strides[1] != planes.itemsize:
        planes = np.ascontiguousarray(planes)
    mask = None if rejected is None else np.ascontiguousarray(rejected, dtype=bool).reshape(count, rows * cols)
    total = np.empty((rows, cols), dtype=np.float64)
    kept_count = np.empty((rows, cols), dtype=np.int32)
    kept_sums(planes, mask, total.reshape(-1), kept_count.reshape(-1))  # float64, in frame order
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / kept_count
    if method == "mean":
        np.copyto(out, mean, casting="unsafe")
    else:
        np.copyto(out, np.where(kept_count == count, total, mean * count), casting="unsafe")
    return out


def sum_band(band: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Plain pixel-wise sum over axis 0 (float64 accumulation); NaN wherever any sample is NaN.

    A pixel is summed only where every frame has a value, so the result never mixes sums of
    different numbers of frames.
    """
    _check_band(band)
    if out is None:
        out = np.empty(band.shape[1:], dtype=np.float32)
    np.copyto(out, np.sum(band, axis=0, dtype=np.float64), casting="unsafe")
    return out


def rejected_counts(rejected: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Number of rejected samples per pixel as int16 (zeros when nothing was rejected)."""
    if rejected is None:
        return np.zeros(shape, dtype=np.int16)
    return rejected.sum(axis=0, dtype=np.int16)
