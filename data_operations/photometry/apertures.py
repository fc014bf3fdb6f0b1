"""Aperture photometry of many stars on one image in one pass (photutils, exact overlap).

Sky: the sigma-clipped median of a circular annulus, robust to faint stars in it. Error: from the
frame's ``ERR`` plane when it has one, else the CCD equation (Merline & Howell, as AstroImageJ),
both plus the error of the sky estimate. A measurement touching a masked (``BPM``) or non-finite
pixel, or whose annulus leaves the frame, is NaN: it is never silently biased.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.stats import SigmaClip
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture

#: A median sky estimate has pi/2 the variance of a mean over the same pixels (Gaussian noise).
MEDIAN_VARIANCE_FACTOR = math.pi / 2
DIGITISATION_VARIANCE = 0.289 ** 2
SKY_CLIP = SigmaClip(sigma=3.0, maxiters=10)


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


def annulus_sky(image: np.ndarray, x: np.ndarray, y: np.ndarray, radii: Radii,
                bad: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sigma-clipped median sky, its per-pixel scatter and the number of pixels kept, per position."""
    annulus = CircularAnnulus(np.column_stack([x, y]), radii.inner, radii.outer)
    stats = ApertureStats(image, annulus, mask=bad, sigma_clip=SKY_CLIP, sum_method="center")
    return (np.atleast_1d(np.asarray(stats.median, dtype=float)), np.atleast_1d(np.asarray(stats.std, dtype=float)),
            np.atleast_1d(np.asarray(stats.sum_aper_area.value, dtype=float)))


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
    level, _, _ = annulus_sky(image, px, py, radii, bad)
    if centroid_sigma:
        px, py = windowed_centroids(image, px, py, np.nan_to_num(level), centroid_sigma, bad=bad)
        moved_on = fits_on_frame(px, py, image.shape, radii.outer)
        px, py = np.where(moved_on, px, x[index]), np.where(moved_on, py, y[index])
    level, scatter, kept = annulus_sky(image, px, py, radii, bad)
    aperture = CircularAperture(np.column_stack([px, py]), radii.aperture)
    clean = np.where(bad, 0.0, image)
    sums = np.atleast_1d(np.asarray(ApertureStats(clean, aperture, sum_method="exact").sum, dtype=float))
    masked = np.atleast_1d(np.asarray(ApertureStats(bad.astype(float), aperture, sum_method="exact").sum,
                                      dtype=float))
    pixels = np.full(px.size, math.pi * radii.aperture ** 2)
    counts = sums - level * pixels
    sky_term = pixels ** 2 * MEDIAN_VARIANCE_FACTOR * scatter ** 2 / np.maximum(kept, 1.0)
    if error is not None:
        variance_plane = np.where(bad, 0.0, np.asarray(error, dtype=float) ** 2)
        source_variance = np.atleast_1d(np.asarray(
            ApertureStats(variance_plane, aperture, sum_method="exact").sum, dtype=float))
        sigma = np.sqrt(source_variance + sky_term)
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
