"""Recentring a click on the nearest star, with an annulus background.

The star's position is the intensity-weighted mean of the background-subtracted pixels within
``radius``, iterated until it stops moving, starting from the brightest such pixel near the click.
The background comes from the annulus ``inner <= r < outer`` around the current centre: its median,
or a least-squares plane when the sky has a gradient; stars in the annulus can be rejected first
by sigma clipping. All radii are in FITS pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clip

DETECTION_SIGMA = 5.0  # a star's brightest pixel must stand this many noise sigmas above the background
MIN_ANNULUS_PIXELS = 8
MAX_ITERATIONS = 30
CONVERGED_PIXELS = 1e-4
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class CentroidResult:
    """Outcome of a recentring: on success the 0-based position, else a sentence in ``message``."""

    success: bool
    column: float
    row: float
    background: float | None = None
    peak: float | None = None
    message: str = ""


@dataclass(frozen=True)
class _Background:
    level: float  # at the centre
    noise: float
    coefficients: tuple[float, float, float]  # level + slope_x * dx + slope_y * dy

    def at(self, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        level, slope_x, slope_y = self.coefficients
        return level + slope_x * dx + slope_y * dy


def _robust_sigma(values: np.ndarray) -> float:
    return float(MAD_TO_SIGMA * np.median(np.abs(values - np.median(values))))


def _annulus_background(
    values: np.ndarray, dx: np.ndarray, dy: np.ndarray, *, reject_stars: bool, plane: bool,
) -> _Background | None:
    """Background model from the annulus pixels (dx, dy relative to the centre); None if too few."""
    if reject_stars and values.size >= MIN_ANNULUS_PIXELS:
        keep = ~np.ma.getmaskarray(sigma_clip(values, sigma=3.0, maxiters=5))
        values, dx, dy = values[keep], dx[keep], dy[keep]
    if values.size < MIN_ANNULUS_PIXELS:
        return None
    if plane:
        design = np.column_stack([np.ones_like(dx), dx, dy])
        coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
        residuals = values - design @ coefficients
        level, slope_x, slope_y = (float(value) for value in coefficients)
        return _Background(level, _robust_sigma(residuals), (level, slope_x, slope_y))
    level = float(np.median(values))
    return _Background(level, _robust_sigma(values), (level, 0.0, 0.0))


def recentre(
    data: np.ndarray, *, column: float, row: float, radius: float, inner: float, outer: float,
    find_centroid: bool = True, reject_stars: bool = False, plane_background: bool = False,
) -> CentroidResult:
    """Find the star nearest (column, row) within ``radius``; see the module docstring for the method.

    Without ``find_centroid`` the position stays where it is and only background and peak are measured.
    ``peak`` is the highest background-subtracted pixel value within ``radius`` of the final centre.
    """
    rows, columns = data.shape
    half = math.ceil(outer + radius) + 2
    first_row, last_row = max(0, math.floor(row) - half), min(rows, math.ceil(row) + half + 1)
    first_column, last_column = max(0, math.floor(column) - half), min(columns, math.ceil(column) + half + 1)
    stamp = np.asarray(data[first_row:last_row, first_column:last_column], dtype=np.float64)
    grid_rows, grid_columns = np.mgrid[first_row:last_row, first_column:last_column]
    finite = np.isfinite(stamp)

    def measure(centre_column: float, centre_row: float):
        dx, dy = grid_columns - centre_column, grid_rows - centre_row
        distance = np.hypot(dx, dy)
        ring = finite & (distance >= inner) & (distance < outer)
        background = _annulus_background(stamp[ring], dx[ring], dy[ring], reject_stars=reject_stars,
                                         plane=plane_background)
        aperture = finite & (distance <= radius)
        return background, aperture, dx, dy

    centre_column, centre_row = float(column), float(row)
    background, aperture, dx, dy = measure(centre_column, centre_row)
    if background is None:
        return CentroidResult(False, column, row, message="The background annulus has too few usable pixels; "
                              "choose a position further from the image edge or a wider annulus.")
    if not aperture.any():
        return CentroidResult(False, column, row, message="The aperture holds no usable pixels.")
    net = stamp - background.at(dx, dy)
    if find_centroid:
        brightest = np.argmax(np.where(aperture, net, -np.inf))
        centre_row, centre_column = float(grid_rows.flat[brightest]), float(grid_columns.flat[brightest])
        for _ in range(MAX_ITERATIONS):
            background, aperture, dx, dy = measure(centre_column, centre_row)
            if background is None or not aperture.any():
                return CentroidResult(False, column, row, message="No star found: the background around "
                                      "the brightest pixel cannot be measured.")
            net = stamp - background.at(dx, dy)
            weights = np.where(aperture, np.clip(net, 0.0, None), 0.0)
            total = float(weights.sum())
            if total <= 0.0:
                break
            new_column = float((weights * grid_columns).sum() / total)
            new_row = float((weights * grid_rows).sum() / total)
            moved = math.hypot(new_column - centre_column, new_row - centre_row)
            centre_column, centre_row = new_column, new_row
            if moved < CONVERGED_PIXELS:
                break
        background, aperture, dx, dy = measure(centre_column, centre_row)
        if background is None or not aperture.any():
            return CentroidResult(False, column, row, message="No star found: the background around "
                                  "the star cannot be measured.")
        net = stamp - background.at(dx, dy)
    peak = float(np.max(net[aperture]))
    if find_centroid:
        wandered = math.hypot(centre_column - column, centre_row - row) > radius
        faint = not peak > DETECTION_SIGMA * background.noise
        if wandered or faint:
            return CentroidResult(False, column, row, background=background.level, peak=peak,
                                  message=f"No star found within {radius:g} pixels of the position.")
    level = float(background.at(np.array(0.0), np.array(0.0)))
    return CentroidResult(True, centre_column, centre_row, background=level, peak=peak)
