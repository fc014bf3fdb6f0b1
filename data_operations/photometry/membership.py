"""A first guess at a cluster's members from Gaia proper motions, parallaxes and distances.

A cluster is a tight clump in proper-motion space over a broad field distribution. The clump is
the densest cell of a 1 mas/yr histogram; its stars give the centre and a radius; the stars inside
that radius give parallax and distance windows. It is a starting point for the user's own cut in
the front end, not a membership catalogue.
"""
from __future__ import annotations

from typing import Any

import numpy as np

MIN_PROPER_MOTIONS = 10
MIN_PEAK_STARS = 5
MIN_WINDOW_STARS = 3
BIN_MAS_YR = 1.0
PEAK_NEIGHBOURHOOD_BINS = 2
HALF_WIDTH_LIMITS = (25.0, 150.0)
RADIUS_LIMITS = (0.5, 5.0)
MIN_PARALLAX_SCATTER_MAS = 0.05
MAD_TO_SIGMA = 1.4826


def robust_scatter(values: np.ndarray) -> float:
    """1.4826 times the median absolute deviation: a standard deviation that ignores outliers."""
    return float(MAD_TO_SIGMA * np.median(np.abs(values - np.median(values))))


def proper_motion_clump(pmra: np.ndarray, pmdec: np.ndarray) -> tuple[float, float, float] | None:
    """(pmra, pmdec, radius) of the densest proper-motion clump, or None when there is none."""
    finite = np.isfinite(pmra) & np.isfinite(pmdec)
    pmra, pmdec = pmra[finite], pmdec[finite]
    if pmra.size < MIN_PROPER_MOTIONS:
        return None
    centre = np.array([np.median(pmra), np.median(pmdec)])
    spread = max(max(np.percentile(values, 99) - mid, mid - np.percentile(values, 1))
                 for values, mid in ((pmra, centre[0]), (pmdec, centre[1])))
    half = float(np.ceil(np.clip(spread, *HALF_WIDTH_LIMITS)))
    edges = [np.arange(mid - half, mid + half + BIN_MAS_YR / 2, BIN_MAS_YR) for mid in centre]
    counts, _, _ = np.histogram2d(pmra, pmdec, bins=edges)
    peak_x, peak_y = np.unravel_index(int(np.argmax(counts)), counts.shape)
    cell_x = np.floor((pmra - edges[0][0]) / BIN_MAS_YR)
    cell_y = np.floor((pmdec - edges[1][0]) / BIN_MAS_YR)
    near = (np.abs(cell_x - peak_x) <= PEAK_NEIGHBOURHOOD_BINS) & (np.abs(cell_y - peak_y) <= PEAK_NEIGHBOURHOOD_BINS)
    if near.sum() < MIN_PEAK_STARS:
        return None
    clump_ra, clump_dec = float(np.median(pmra[near])), float(np.median(pmdec[near]))
    distance = np.hypot(pmra[near] - clump_ra, pmdec[near] - clump_dec)
    radius = float(np.clip(3.0 * max(robust_scatter(distance), float(np.median(distance))), *RADIUS_LIMITS))
    return clump_ra, clump_dec, radius


def _window(values: np.ndarray, floor: float, *, non_negative: bool) -> tuple[float, float] | None:
    values = values[np.isfinite(values)]
    if values.size < MIN_WINDOW_STARS:
        return None
    middle, half = float(np.median(values)), 3.0 * max(robust_scatter(values), floor)
    low = max(middle - half, 0.0) if non_negative else middle - half
    return low, middle + half


def membership_guess(pmra: np.ndarray, pmdec: np.ndarray, parallax: np.ndarray, r_med: np.ndarray,
                     r_lo: np.ndarray, r_hi: np.ndarray) -> dict[str, Any] | None:
    """``{pmra, pmdec, pm_radius, parallax_min/max, distance_min/max}`` (windows None when too few), or None."""
    pmra, pmdec, parallax, r_med, r_lo, r_hi = (np.asarray(v, dtype=float)
                                                 for v in (pmra, pmdec, parallax, r_med, r_lo, r_hi))
    clump = proper_motion_clump(pmra, pmdec)
    if clump is None:
        return None
    centre_ra, centre_dec, radius = clump
    with np.errstate(invalid="ignore"):
        members = np.hypot(pmra - centre_ra, pmdec - centre_dec) <= radius
    parallax_window = _window(parallax[members], MIN_PARALLAX_SCATTER_MAS, non_negative=False)
    half_widths = (r_hi[members] - r_lo[members]) / 2.0
    half_widths = half_widths[np.isfinite(half_widths)]
    distance_floor = float(np.median(half_widths)) if half_widths.size else 0.0
    distance_window = _window(r_med[members], distance_floor, non_negative=True)
    return {
        "pmra": round(centre_ra, 3), "pmdec": round(centre_dec, 3), "pm_radius": round(radius, 3),
        "parallax_min": None if parallax_window is None else round(parallax_window[0], 4),
        "parallax_max": None if parallax_window is None else round(parallax_window[1], 4),
        "distance_min": None if distance_window is None else round(distance_window[0], 1),
        "distance_max": None if distance_window is None else round(distance_window[1], 1),
    }
