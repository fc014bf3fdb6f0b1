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

from data_operations.kernels.median import nanmedian_band

COMBINE_METHODS = ("mean", "median", "sum")
REJECTION_METHODS = ("none", "sigma_clip", "minmax")
MAD_TO_SIGMA = 1.4826  # MAD of a Gaussian is 0.6745 sigma
MAX_CLIP_ITERATIONS = 10
MINMAX_MIN_SAMPLES = 3
# Band-sized float32 arrays alive at once while clipping and combining: the band itself, the
# kept copy, the deviations and their absolute values, and the median kernel's sorted copy.
WORKING_COPIES = 5


def _check_band(band: np.ndarray) -> None:
    if band.ndim != 3:
        raise ValueError(f"band must have shape (frames, rows, cols); got {band.shape}.")


def sigma_clip_mask(band: np.ndarray, *, sigma_low: float = 3.0, sigma_high: float = 3.0,
                    max_iterations: int = MAX_CLIP_ITERATIONS) -> np.ndarray:
    """Boolean mask (same shape as ``band``), True for samples rejected by iterative sigma clipping.

    The first pass runs over every pixel with the median network. Clipping keeps the samples
    between two limits, so a pixel's kept samples are always a run of its sorted samples: the
    pixels that lost a sample in the first pass (a quarter, with 10 frames) are sorted once and
    iterated as ``[low, high)`` rank intervals, with no re-gathering per iteration.
    """
    _check_band(band)
    if sigma_low <= 0 or sigma_high <= 0:
        raise ValueError("sigma_low and sigma_high must be positive.")
    count, rows, cols = band.shape
    samples_by_pixel = band.reshape(count, rows * cols).astype(np.float32, copy=False)
    low, high = _outliers(samples_by_pixel, sigma_low, sigma_high)
    rejected = low | high
    revisit = np.flatnonzero(rejected.any(axis=0))
    if max_iterations > 1 and len(revisit):
        rejected[:, revisit] = _clip_by_rank(samples_by_pixel[:, revisit], sigma_low, sigma_high, max_iterations - 1,
                                             first_cuts=(np.count_nonzero(low[:, revisit], axis=0),
                                                         np.count_nonzero(high[:, revisit], axis=0)))
    return rejected.reshape(count, rows, cols)


def _outliers(samples: np.ndarray, sigma_low: float, sigma_high: float) -> tuple[np.ndarray, np.ndarray]:
    """Samples (frames, pixels) below and above the clipping limits around the median; NaNs never are."""
    pixels = samples.shape[1]
    centre = nanmedian_band(samples.reshape(samples.shape[0], 1, pixels))[0]
    deviation = samples - centre
    spread = nanmedian_band(np.abs(deviation).reshape(samples.shape[0], 1, pixels))[0]
    spread *= np.float32(MAD_TO_SIGMA)
    with np.errstate(invalid="ignore"):
        low = deviation < -np.float32(sigma_low) * spread
        high = deviation > np.float32(sigma_high) * spread
    return low, high


def _median_of_runs(ordered: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Median of ``ordered[low[p]:high[p], p]`` per pixel p (ranks on axis 0), as ``nanmedian_band`` computes it."""
    picks = np.arange(ordered.shape[1])
    lower = ordered[low + (high - low - 1) // 2, picks]
    upper = ordered[low + (high - low) // 2, picks]
    return _middle(lower, upper, (high - low) % 2 == 1)


def _middle(lower: np.ndarray, upper: np.ndarray, odd: np.ndarray) -> np.ndarray:
    """The median from the two middle values: ``lower`` for odd counts, their float32 mean for even."""
    middle = np.add(lower, upper, dtype=np.float32)
    middle *= np.float32(0.5)
    return np.where(odd, lower, middle)


def _mad_of_runs(ordered: np.ndarray, low: np.ndarray, high: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Median of ``|ordered[low:high, p] - centre[p]|`` per pixel p, without sorting the distances.

    ``centre`` is the run's median, so the distances below it (walking down from the middle) and
    those above it (walking up) are two ascending lists; merging them for half the run's length
    reaches the middle distances. Each value equals the ``abs(sample - centre)`` a sort would see.
    """
    picks = np.arange(ordered.shape[1])
    length = high - low
    k_lower, k_upper = (length - 1) // 2, length // 2
    up = low + length // 2  # first rank of the upper list
    down = up - 1  # first rank of the lower list
    lower = np.empty(len(picks), dtype=np.float32)
    upper = np.empty(len(picks), dtype=np.float32)
    last_rank = len(ordered) - 1
    for step in range(int(k_upper.max(initial=0)) + 1):
        with np.errstate(invalid="ignore"):
            below = np.where(down >= low, centre - ordered[np.maximum(down, 0), picks], np.float32(np.inf))
            above = np.where(up < high, ordered[np.minimum(up, last_rank), picks] - centre, np.float32(np.inf))
        take_below = below <= above
        distance = np.where(take_below, below, above)
        np.copyto(lower, distance, where=k_lower == step)
        np.copyto(upper, distance, where=k_upper == step)
        down -= take_below
        up += ~take_below
    return _middle(lower, upper, length % 2 == 1)


def _clip_by_rank(samples: np.ndarray, sigma_low: float, sigma_high: float, max_iterations: int,
                  first_cuts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Iterated sigma clipping of (frames, pixels) samples, tracked as rank intervals; the mask.

    ``first_cuts`` are the numbers of samples the first pass rejected below and above. Gives the
    same rejections as repeating ``_outliers`` on the survivors: deviations from the centre are
    monotonic in the sample value, so each pass cuts a prefix and a suffix of the run. Ranks run
    along axis 0 (frames-major, like the band), so per-pixel counts add whole rows.
    """
    count = samples.shape[0]
    ordered = np.ascontiguousarray(np.sort(samples.T, axis=1).T)  # (frames, pixels), NaNs last
    low = first_cuts[0].astype(np.intp)
    high = count - np.count_nonzero(np.isnan(ordered), axis=0) - first_cuts[1]
    active = np.flatnonzero(high > 0)
    for _ in range(max_iterations):
        if not len(active):
            break
        run_low, run_high = low[active], high[active]
        values = ordered if len(active) == ordered.shape[1] else ordered[:, active]
        centre = _median_of_runs(values, run_low, run_high)
        spread = _mad_of_runs(values, run_low, run_high, centre)
        spread *= np.float32(MAD_TO_SIGMA)
        deviation = values - centre
        # Deviations grow with rank, so the samples under the lower limit are a prefix of the
        # column, those within the upper limit another; NaNs compare false and sit last.
        with np.errstate(invalid="ignore"):
            below = np.count_nonzero(deviation < -np.float32(sigma_low) * spread, axis=0)
            within = np.count_nonzero(deviation <= np.float32(sigma_high) * spread, axis=0)
        new_low = np.maximum(run_low, below)
        new_high = np.minimum(run_high, within)
        changed = (new_low != run_low) | (new_high != run_high)
        low[active], high[active] = new_low, new_high
        active = active[changed]
    # Back to the frames' order: a sample is kept when its value lies within its pixel's kept run.
    picks = np.arange(ordered.shape[1])
    kept_min = ordered[np.minimum(low, count - 1), picks]
    kept_max = ordered[np.maximum(high - 1, 0), picks]
    with np.errstate(invalid="ignore"):
        kept = (samples >= kept_min) & (samples <= kept_max) & (high > low)
    return ~kept & ~np.isnan(samples)


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
    keep = np.isfinite(band)
    if rejected is not None:
        keep &= ~rejected
    kept_count = np.count_nonzero(keep, axis=0)
    total = np.add.reduce(band, axis=0, dtype=np.float64, where=keep, initial=0.0)
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
