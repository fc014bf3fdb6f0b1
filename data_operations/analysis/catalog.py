"""Sources of a frame: from the reduction pipeline's ``CAT`` table, else detected on the image.

Positions are 1-based FITS pixels (``xwin``/``ywin`` convention). ``mag`` is a calibrated magnitude
only when the catalogue carries one; otherwise it is None and the flux stands in for it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.wcs import WCS

from data_operations.analysis.sky import pixel_to_sky

MAX_SOURCES = 1000
DETECTION_SIGMA = 5.0
DEFAULT_FWHM_PIXELS = 3.0
DETECTION_SAMPLE_PIXELS = 250_000  # pixels sampled to estimate the sky level and noise


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _column(table: np.ndarray, names: tuple[str, ...]) -> np.ndarray | None:
    available = {name.lower(): name for name in table.dtype.names or ()}
    for name in names:
        if name in available:
            return np.asarray(table[available[name]], dtype=np.float64)
    return None


def _sources(x: np.ndarray, y: np.ndarray, flux: np.ndarray, ra: np.ndarray | None, dec: np.ndarray | None,
             mag: np.ndarray | None, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` brightest rows with finite positions and flux, brightest first."""
    usable = np.isfinite(x) & np.isfinite(y) & np.isfinite(flux)
    order = [index for index in np.argsort(-np.where(usable, flux, -np.inf), kind="stable") if usable[index]]
    sources = []
    for index in order[:limit]:
        sources.append({
            "x": float(x[index]), "y": float(y[index]), "flux": float(flux[index]),
            "ra": _finite_or_none(ra[index]) if ra is not None else None,
            "dec": _finite_or_none(dec[index]) if dec is not None else None,
            "mag": _finite_or_none(mag[index]) if mag is not None else None,
        })
    return sources


def sources_from_table(table: np.ndarray, wcs: WCS | None, *, limit: int = MAX_SOURCES) -> list[dict[str, Any]]:
    """Sources of a ``CAT`` table: windowed positions (plain ones as a fallback), sky from the table or WCS."""
    x = _column(table, ("xwin", "x"))
    y = _column(table, ("ywin", "y"))
    flux = _column(table, ("flux",))
    if x is None or y is None or flux is None:
        raise ValueError("the CAT table lacks x/y or flux columns")
    ra, dec = _column(table, ("ra",)), _column(table, ("dec",))
    if ra is None or dec is None:
        sky = pixel_to_sky(wcs, x - 1.0, y - 1.0)
        ra, dec = sky if sky is not None else (None, None)
    return _sources(x, y, flux, ra, dec, _column(table, ("mag",)), limit)


def detect_sources(data: np.ndarray, wcs: WCS | None, *, fwhm_pixels: float = DEFAULT_FWHM_PIXELS,
                   limit: int = MAX_SOURCES) -> list[dict[str, Any]]:
    """Stars found with photutils' DAOStarFinder at ``DETECTION_SIGMA`` above a sigma-clipped sky."""
    from photutils.detection import DAOStarFinder  # imported here: only frames without a CAT need it

    image = np.asarray(data, dtype=np.float32)
    step = max(1, math.isqrt(image.size // DETECTION_SAMPLE_PIXELS))
    sample = image[::step, ::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return []
    _, median, noise = sigma_clipped_stats(sample, sigma=3.0, maxiters=5)
    if not noise > 0:
        return []
    finite = np.isfinite(image)
    subtracted = np.where(finite, image - np.float32(median), np.float32(0.0))
    finder = DAOStarFinder(threshold=DETECTION_SIGMA * float(noise), fwhm=float(fwhm_pixels), n_brightest=limit)
    found = finder(subtracted, mask=~finite)
    if found is None or len(found) == 0:
        return []
    x = np.asarray(found["x_centroid"], dtype=np.float64) + 1.0
    y = np.asarray(found["y_centroid"], dtype=np.float64) + 1.0
    flux = np.asarray(found["flux"], dtype=np.float64)
    sky = pixel_to_sky(wcs, x - 1.0, y - 1.0)
    ra, dec = sky if sky is not None else (None, None)
    return _sources(x, y, flux, ra, dec, None, limit)
