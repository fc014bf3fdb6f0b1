"""Aperture photometry of many stars on one image in one pass (exact overlap, vectorised stamps).

Sky: the sigma-clipped median of a circular annulus, robust to faint stars in it. Error: from the
frame's ``ERR`` plane when it has one, else the CCD equation (Merline & Howell, as AstroImageJ),
both plus the error of the sky estimate. A measurement touching a masked (``BPM``) or non-finite
pixel, or whose annulus leaves the frame, is NaN: it is never silently biased.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from photutils.geometry import circular_overlap_grid

#: A median sky estimate has pi/2 the variance of a mean over the same pixels (Gaussian noise).
MEDIAN_VARIANCE_FACTOR = math.pi / 2
DIGITISATION_VARIANCE = 0.289 ** 2
SKY_CLIP_SIGMA, SKY_CLIP_PASSES = 3.0, 10
#: Stars measured together: bounds the stamp arrays (stars x (2 r_out + 3)^2 values) to tens of MB.
STARS_PER_BLOCK = 256
RESKY_SHIFT_PX = 1.0


@dataclass(frozen=True)
class Radii:
    """Aperture and annulus radii in pixels."""

    aperture: float
    inner: float
    outer: float


@dataclass
class Measurement:
    """Per-position results (arrays of one length); net and error NaN where not measurable."""

    x: np.ndarray
    y: np.ndarray
    net: np.ndarray
    error: np.ndarray
    sky: np.ndarray
    sky_pixels: np.ndarray
    area: np.ndarray


def fits_on_frame(x: np.ndarray, y: np.ndarray, shape: tuple[int, int], margin: float) -> np.ndarray:
    """Positions whose circle of radius ``margin`` lies inside the frame."""
    ny, nx = shape
    return (x - margin >= -0.5) & (y - margin >= -0.5) & (x + margin <= nx - 0.5) & (y + margin <= ny - 0.5)


def windowed_centroids(image: np.ndarray, x: np.ndarray, y: np.ndarray, sky: np.ndarray, sigma: float, *,
                       bad: np.ndarray | None = None, iterations: int = 10,
                       tolerance: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-windowed centroids (as SExtractor's XWIN), all positions at once.

    Each pass moves a position by twice the window-weighted mean offset of the sky-subtracted
    pixels, which lands on the centre of a Gaussian star of width ``sigma`` in one step and converges
    for other profiles. Positions whose stamp leaves the frame keep their start.
    """
    half = int(math.ceil(4 * sigma))
    offsets = np.arange(-half, half + 1)
    ny, nx = image.shape
    x, y = np.array(x, dtype=float), np.array(y, dtype=float)
    active = fits_on_frame(x, y, image.shape, half + 1)
    for _ in range(iterations):
        if not active.any():
            break
        xi, yi = np.rint(x[active]).astype(int), np.rint(y[active]).astype(int)
        rows = np.clip(yi[:, None] + offsets[None, :], 0, ny - 1)
        cols = np.clip(xi[:, None] + offsets[None, :], 0, nx - 1)
        stamps = image[rows[:, :, None], cols[:, None, :]] - sky[active][:, None, None]
        if bad is not None:
            stamps = np.where(bad[rows[:, :, None], cols[:, None, :]], 0.0, stamps)
        stamps = np.where(np.isfinite(stamps), stamps, 0.0)
        dx = cols[:, None, :] - x[active][:, None, None]
        dy = rows[:, :, None] - y[active][:, None, None]
        weights = np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2)) * stamps
        total = weights.sum(axis=(1, 2))
        usable = total > 0
        shift_x = np.where(usable, 2 * (weights * dx).sum(axis=(1, 2)) / np.where(usable, total, 1), 0.0)
        shift_y = np.where(usable, 2 * (weights * dy).sum(axis=(1, 2)) / np.where(usable, total, 1), 0.0)
        shift_x, shift_y = np.clip(shift_x, -half, half), np.clip(shift_y, -half, half)
        indices = np.flatnonzero(active)
        x[indices] += shift_x
        y[indices] += shift_y
        still_moving = np.hypot(shift_x, shift_y) > tolerance
        active[indices[~still_moving]] = False
        active &= fits_on_frame(x, y, image.shape, half + 1)
    return x, y


def _stamps(image: np.ndarray, x: np.ndarray, y: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (stars, 2 half + 1) of square stamps around the rounded positions.

    Indices past the frame edge are returned as they are; ``_take`` reads them as NaN.
    """
    offsets = np.arange(-half, half + 1)
    return np.rint(y).astype(int)[:, None] + offsets[None, :], np.rint(x).astype(int)[:, None] + offsets[None, :]


def _take(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray, outside: float = np.nan) -> np.ndarray:
    """The stamps (stars, rows, cols) of ``plane``; ``outside`` past the frame edge."""
    ny, nx = plane.shape
    values = plane[np.clip(rows, 0, ny - 1)[:, :, None], np.clip(cols, 0, nx - 1)[:, None, :]]
    off = ((rows < 0) | (rows >= ny))[:, :, None] | ((cols < 0) | (cols >= nx))[:, None, :]
    return np.where(off, outside, values) if off.any() else values


def annulus_sky(image: np.ndarray, x: np.ndarray, y: np.ndarray, radii: Radii,
                bad: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sigma-clipped (3 sigma, 10 passes) median sky, its per-pixel scatter and the pixels kept, per position.

    Annulus pixels are those whose centre lies between the radii, as photutils' "center" method.
    """
    level, scatter, kept = (np.full(x.size, np.nan) for _ in range(3))
    half = int(math.ceil(radii.outer)) + 1
    for first in range(0, x.size, STARS_PER_BLOCK):
        block = slice(first, first + STARS_PER_BLOCK)
        bx, by = x[block], y[block]
        rows, cols = _stamps(image, bx, by, half)
        values = _take(image, rows, cols).astype(float)
        distance2 = (cols[:, None, :] - bx[:, None, None]) ** 2 + (rows[:, :, None] - by[:, None, None]) ** 2
        inside = (distance2 >= radii.inner ** 2) & (distance2 <= radii.outer ** 2) & np.isfinite(values)
        if bad is not None:
            inside &= ~_take(bad, rows, cols, outside=True)
        values = np.where(inside, values, np.nan).reshape(len(bx), -1)
        level[block], scatter[block], kept[block] = clipped_median(values)
    return level, scatter, kept


def clipped_median(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: median and standard deviation after 3-sigma clipping about the median, and the count kept.

    As astropy's ``SigmaClip(sigma=3, maxiters=10)``, but all rows at once: each row is sorted once
    (NaN last), so every clipping pass only narrows a window [lo, hi) and the moments come from
    prefix sums.
    """
    rows = np.arange(values.shape[0])
    ordered = np.sort(values, axis=1)
    hi = np.isfinite(ordered).sum(axis=1)
    lo = np.zeros_like(hi)
    centre = np.where(hi > 0, ordered[rows, np.maximum(hi - 1, 0) // 2], 0.0)
    shifted = np.nan_to_num(ordered - centre[:, None])
    sums = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(shifted, axis=1)], axis=1)
    squares = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(shifted ** 2, axis=1)], axis=1)

    def moments(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        count = hi - lo
        safe = np.maximum(count, 1)
        middle = (ordered[rows, np.minimum(lo + (safe - 1) // 2, ordered.shape[1] - 1)]
                  + ordered[rows, np.minimum(lo + safe // 2, ordered.shape[1] - 1)]) / 2
        mean = (sums[rows, hi] - sums[rows, lo]) / safe
        spread = np.sqrt(np.maximum((squares[rows, hi] - squares[rows, lo]) / safe - mean ** 2, 0.0))
        return np.where(count > 0, middle, np.nan), np.where(count > 0, spread, np.nan), count

    for _ in range(SKY_CLIP_PASSES):
        median, spread, _ = moments(lo, hi)
        low, high = median - SKY_CLIP_SIGMA * spread, median + SKY_CLIP_SIGMA * spread
        finite = np.where(np.isfinite(ordered), ordered, np.inf)
        new_lo = np.maximum(lo, (finite < low[:, None]).sum(axis=1))
        new_hi = np.minimum(hi, (finite <= high[:, None]).sum(axis=1))
        new_hi = np.maximum(new_hi, new_lo)
        if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
            break
        lo, hi = new_lo, new_hi
    median, spread, count = moments(lo, hi)
    return median, spread, count.astype(float)


def aperture_sums(planes: list[np.ndarray], x: np.ndarray, y: np.ndarray, radius: float) -> list[np.ndarray]:
    """Exact-overlap sums of each plane in circles of ``radius`` at every (x, y)."""
    half = int(math.ceil(radius)) + 1
    sums = [np.zeros(x.size) for _ in planes]
    for first in range(0, x.size, STARS_PER_BLOCK):
        block = slice(first, first + STARS_PER_BLOCK)
        bx, by = x[block], y[block]
        rows, cols = _stamps(planes[0], bx, by, half)
        weights = np.empty((len(bx), 2 * half + 1, 2 * half + 1))
        for star, (dx, dy) in enumerate(zip(cols[:, 0] - 0.5 - bx, rows[:, 0] - 0.5 - by, strict=True)):
            extent = 2 * half + 1
            weights[star] = circular_overlap_grid(dx, dx + extent, dy, dy + extent, extent, extent, radius, 1, 1)
        for plane, total in zip(planes, sums, strict=True):
            total[block] = (weights * _take(plane, rows, cols, outside=0.0)).sum(axis=(1, 2))
    return sums


def measure(image: np.ndarray, x: np.ndarray, y: np.ndarray, radii: Radii, *, bad: np.ndarray | None = None,
            error: np.ndarray | None = None, gain: float = 1.0, read_noise: float = 0.0,
            centroid_sigma: float | None = None) -> Measurement:
    """Net counts and their 1-sigma errors at every (x, y) (0-based, centres at integers).

    ``bad`` is True where a pixel must not be used (the ``BPM`` plane, non-finite pixels); ``error``
    is the 1-sigma per-pixel plane in image units. With ``centroid_sigma`` (pixels), positions are
    first re-centred with a windowed centroid of that width.
    """
    x, y = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(y, dtype=float))
    invalid = ~np.isfinite(image)
    bad = invalid if bad is None else (np.asarray(bad, dtype=bool) | invalid)
    measurable = np.isfinite(x) & np.isfinite(y) & fits_on_frame(x, y, image.shape, radii.outer)
    count = x.size
    net, err = np.full(count, np.nan), np.full(count, np.nan)
    sky, sky_pixels, area = np.full(count, np.nan), np.zeros(count), np.zeros(count)
    if not measurable.any():
        return Measurement(x, y, net, err, sky, sky_pixels, area)
    index = np.flatnonzero(measurable)
    px, py = x[index], y[index]
    level, scatter, kept = annulus_sky(image, px, py, radii, bad)
    if centroid_sigma:
        px, py = windowed_centroids(image, px, py, np.nan_to_num(level), centroid_sigma, bad=bad)
        moved_on = fits_on_frame(px, py, image.shape, radii.outer)
        px, py = np.where(moved_on, px, x[index]), np.where(moved_on, py, y[index])
        # The sky is measured again only where the centre moved by a pixel or more.
        moved = np.flatnonzero(np.hypot(px - x[index], py - y[index]) >= RESKY_SHIFT_PX)
        if moved.size:
            level[moved], scatter[moved], kept[moved] = annulus_sky(image, px[moved], py[moved], radii, bad)
    planes = [np.where(bad, 0.0, image), bad.astype(float)]
    if error is not None:
        planes.append(np.where(bad, 0.0, np.asarray(error, dtype=float) ** 2))
    sums, masked, *variance = aperture_sums(planes, px, py, radii.aperture)
    pixels = np.full(px.size, math.pi * radii.aperture ** 2)
    counts = sums - level * pixels
    sky_term = pixels ** 2 * MEDIAN_VARIANCE_FACTOR * scatter ** 2 / np.maximum(kept, 1.0)
    if error is not None:
        sigma = np.sqrt(variance[0] + sky_term)
    else:
        electrons = gain * np.maximum(counts, 0.0)
        per_pixel = gain * np.maximum(level, 0.0) + read_noise ** 2 + gain ** 2 * DIGITISATION_VARIANCE
        sigma = np.sqrt(electrons + pixels * (1.0 + MEDIAN_VARIANCE_FACTOR * pixels / np.maximum(kept, 1.0))
                        * per_pixel) / gain
    usable = (masked <= 1e-9) & np.isfinite(counts) & (kept > 0)
    net[index] = np.where(usable, counts, np.nan)
    err[index] = np.where(usable, sigma, np.nan)
    sky[index], sky_pixels[index], area[index] = level, kept, pixels
    x_out, y_out = x.copy(), y.copy()
    x_out[index], y_out[index] = px, py
    return Measurement(x_out, y_out, net, err, sky, sky_pixels, area)
