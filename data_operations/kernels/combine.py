"""Combining a row band of frames, with optional outlier rejection (cosmic rays, satellite trails).

Every function takes one band ``(frames, rows, cols)`` and returns per-pixel results, so an
operation keeps memory bounded by the band size whatever the number of frames. Non-finite samples
(NaN; the reader turns +-inf into NaN) are missing data: they are never rejected, never counted as
rejected and never enter a statistic.

Rejection follows the usual combiner recipes:

- ``sigma_clip``: exactly ``astropy.stats.sigma_clip(band, sigma_lower, sigma_upper, maxiters,
  cenfunc='median', stdfunc='mad_std', axis=0)`` on the finite samples (see ``clipping``): the
  median and the MAD-based sigma of the survivors set the bounds, passes repeat until nothing
  changes or ``max_iterations`` passes have, and the last bounds are applied to every original
  sample. Median and MAD are robust, so one huge cosmic ray cannot inflate the spread and hide
  itself. Where more than half the samples are identical the spread is 0 and every differing
  sample is rejected.
- ``minmax``: per pixel, NaN samples are set aside first, then the lowest and the highest of the
  finite samples are rejected, as ccdproc's ``clip_extrema(nlow=1, nhigh=1)`` does on a stack
  without NaN. A pixel with fewer than three finite samples keeps them all (rejecting two of two
  would leave no value); a pixel with none stays NaN.

The C kernels (``_network.c``) are the fast path; without them (or with the pure-Python kernels
forced, see ``data_operations.native``) the numpy code here gives the same masks and sums.
"""
from __future__ import annotations

import numpy as np

from data_operations.kernels.clipping import sigma_clip_planes
from data_operations.kernels.median import nanmedian_band, network_table
from data_operations.native import NETWORK_MODULE, compiled_module

COMBINE_METHODS = ("mean", "median", "sum")
REJECTION_METHODS = ("none", "sigma_clip", "minmax")
MAX_CLIP_ITERATIONS = 5  # astropy's default maxiters
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


def _planes(band: np.ndarray) -> np.ndarray:
    """The band as float32 (count, pixels) with contiguous rows, copied only when it must be."""
    count, rows, cols = band.shape
    planes = band.reshape(count, rows * cols).astype(np.float32, copy=False)
    return planes if planes.strides[1] == planes.itemsize else np.ascontiguousarray(planes)


def sigma_clip_mask(band: np.ndarray, *, sigma_low: float = 3.0, sigma_high: float = 3.0,
                    max_iterations: int | None = MAX_CLIP_ITERATIONS) -> np.ndarray:
    """Boolean mask (same shape as ``band``), True for the samples astropy's sigma_clip rejects.

    ``max_iterations`` is astropy's ``maxiters`` (None: until nothing changes). In C without the
    GIL: blocks of pixels are sorted by the sorting network, and the first pass's bounds show
    which pixels lose a sample (about a quarter, with 10 frames); only those are iterated, each on
    its sorted samples. The first pass's MAD comes from the median network run on double-precision
    distances, so it is exactly astropy's. Pixels with non-finite samples are sorted one by one.
    """
    _check_band(band)
    if not (sigma_low > 0 and sigma_high > 0):
        raise ValueError("sigma_low and sigma_high must be positive.")
    if max_iterations is not None and max_iterations < 1:
        raise ValueError("max_iterations must be at least 1 (or None for no limit).")
    count, rows, cols = band.shape
    planes = _planes(band)
    network = compiled_module(NETWORK_MODULE)
    if network is None:
        return sigma_clip_planes(planes, sigma_low, sigma_high, max_iterations).reshape(count, rows, cols)
    rejected = np.empty((count, rows * cols), dtype=bool)
    network.sigma_clip(planes, network_table(count, sort=True), network_table(count), float(sigma_low),
                       float(sigma_high),
                       0 if max_iterations is None else int(max_iterations), rejected)
    return rejected.reshape(count, rows, cols)


def minmax_mask(band: np.ndarray) -> np.ndarray:
    """Boolean mask, True for the lowest and the highest finite sample of each pixel.

    NaN (and infinite) samples are set aside first and never rejected. Pixels with fewer than three
    finite samples keep all of them. Ties pick the first lowest and the last highest sample, so
    two different samples are rejected even when all are equal.
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


def rejection_mask(band: np.ndarray, rejection: str, *, sigma_low: float = 3.0, sigma_high: float = 3.0,
                   max_iterations: int | None = MAX_CLIP_ITERATIONS) -> np.ndarray | None:
    """The mask for ``rejection`` (one of REJECTION_METHODS); None when nothing is rejected.

    ``sigma_low``, ``sigma_high`` and ``max_iterations`` apply to ``sigma_clip`` only.
    """
    if rejection == "none":
        return None
    if rejection == "sigma_clip":
        return sigma_clip_mask(band, sigma_low=sigma_low, sigma_high=sigma_high, max_iterations=max_iterations)
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
    planes = _planes(band)
    mask = None if rejected is None else np.ascontiguousarray(rejected, dtype=bool).reshape(count, rows * cols)
    total, kept_count = kept_sums(planes, mask)
    total, kept_count = total.reshape(rows, cols), kept_count.reshape(rows, cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / kept_count
    if method == "mean":
        np.copyto(out, mean, casting="unsafe")
    else:
        np.copyto(out, np.where(kept_count == count, total, mean * count), casting="unsafe")
    return out


def kept_sums(planes: np.ndarray, rejected: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the float64 sum of the finite samples not ``rejected``, and their number (int32).

    Samples are added in frame order from 0.0, as numpy's add.reduce over axis 0 does.
    """
    count, pixels = planes.shape
    total = np.empty(pixels, dtype=np.float64)
    kept_count = np.empty(pixels, dtype=np.int32)
    network = compiled_module(NETWORK_MODULE)
    if network is not None:
        network.kept_sums(planes, rejected, total, kept_count)
        return total, kept_count
    keep = np.isfinite(planes)
    if rejected is not None:
        keep &= ~rejected
    total[...] = 0.0
    for frame in range(count):  # in frame order, as the C loop adds
        total += np.where(keep[frame], planes[frame], np.float32(0)).astype(np.float64)
    kept_count[...] = keep.sum(axis=0, dtype=np.int32)
    return total, kept_count


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
