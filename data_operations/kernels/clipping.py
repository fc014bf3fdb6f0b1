"""Sigma clipping in numpy: the fallback of the C kernel, and its definition in array form.

Per pixel (axis 0), exactly what ``astropy.stats.sigma_clip(data, sigma_lower, sigma_upper,
maxiters, cenfunc='median', stdfunc='mad_std', axis=0)`` computes: statistics in float64 over the
finite samples; each pass takes the median ``c`` and ``std = MAD x 1.482602218505602`` of the
survivors, keeps the survivors within ``[c - sigma_lower * std, c + sigma_upper * std]``, and stops
when a pass keeps them all, keeps none, or ``maxiters`` passes changed something. The mask is the
last bounds applied to every original finite sample (so a sample clipped early can come back).
Non-finite samples are missing: never rejected. The survivors of a pixel are always a run of its
sorted samples, which is how both this code and the C kernel follow them.
"""
from __future__ import annotations

import numpy as np

MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4), the factor astropy's mad_std uses


def _run_median(ordered: np.ndarray, low: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Median of each column's run ``ordered[low:low + length]`` (ascending), as astropy takes it."""
    columns = np.arange(ordered.shape[1])
    lower = ordered[low + (length - 1) // 2, columns]
    upper = ordered[low + length // 2, columns]
    return np.where(length % 2 == 1, lower, 0.5 * (upper + lower))


def sigma_clip_planes(planes: np.ndarray, sigma_low: float, sigma_high: float,
                      max_iterations: int | None) -> np.ndarray:
    """Boolean mask (count, pixels) of the samples of float ``planes`` that astropy would clip.

    ``max_iterations`` None (or < 1) iterates until a pass changes nothing.
    """
    values = planes.astype(np.float64)
    finite = np.isfinite(values)
    count, pixels = values.shape
    ordered = np.sort(np.where(finite, values, np.nan), axis=0)  # NaN (the missing) sort last
    low = np.zeros(pixels, dtype=np.int64)
    length = finite.sum(axis=0).astype(np.int64)
    lower = np.full(pixels, np.nan)
    upper = np.full(pixels, np.nan)
    active = np.flatnonzero(length > 0)
    ranks = np.arange(count)[:, None]
    passes = 0
    while active.size:
        run = ordered[:, active]
        run_low, run_length = low[active], length[active]
        centre = _run_median(run, run_low, run_length)
        inside = (ranks >= run_low) & (ranks < run_low + run_length)
        distances = np.sort(np.where(inside, np.abs(run - centre), np.inf), axis=0)
        std = _run_median(distances, np.zeros_like(run_low), run_length) * MAD_TO_SIGMA
        pass_lower = centre - sigma_low * std
        pass_upper = centre + sigma_high * std
        lower[active], upper[active] = pass_lower, pass_upper
        below = np.count_nonzero(inside & (run < pass_lower), axis=0)
        above = np.count_nonzero(inside & (run > pass_upper), axis=0)
        kept = np.maximum(run_length - below - above, 0)
        passes += 1
        changing = (kept != run_length) & (kept > 0)
        low[active], length[active] = run_low + below, kept
        if max_iterations is not None and 0 < max_iterations <= passes:
            break
        active = active[changing]
    with np.errstate(invalid="ignore"):
        return finite & ((values < lower) | (values > upper))
