"""Headers and celestial WCS of a frame: JSON views of them and pixel <-> sky conversions."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from data_operations.frames.science import science_hdu_index

_LONG_TEXT_KEYWORDS = ("COMMENT", "HISTORY")


def science_hdu(hdul: fits.HDUList) -> fits.ImageHDU | fits.CompImageHDU | fits.PrimaryHDU:
    """The science image HDU by the readers' one rule (``SCI``, else the first 2-D image).

    ValueError if the file has none. Its header may be read; its pixels go through ``read_image``.
    """
    index = science_hdu_index(hdul)
    if index is None:
        raise ValueError("the file has no 2-D image extension")
    return hdul[index]


def json_value(value: Any) -> Any:
    """A header value as JSON: non-finite floats and undefined values become None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    return None


def header_json(header: fits.Header) -> dict[str, Any]:
    """Every keyword with its value, in header order; COMMENT and HISTORY cards joined by newlines."""
    result: dict[str, Any] = {}
    for card in header.cards:
        keyword = card.keyword
        if not keyword:
            continue
        if keyword in _LONG_TEXT_KEYWORDS:
            text = str(card.value)
            result[keyword] = f"{result[keyword]}\n{text}" if keyword in result else text
        else:
            result[keyword] = json_value(card.value)
    return result


def celestial_wcs(header: fits.Header) -> WCS | None:
    """The header's celestial WCS, or None when it has none (or an unreadable one)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2)
    except Exception:  # astropy raises many types for broken WCS keywords; all mean "no usable WCS"
        return None
    if not wcs.has_celestial:
        return None
    return wcs.celestial


def wcs_summary(header: fits.Header, shape: tuple[int, int]) -> dict[str, Any] | None:
    """``crval``, ``crpix``, ``cd1`` (CD1_1, CD1_2), ``cd2`` and ``fits_dimensions`` [NAXIS1, NAXIS2]."""
    wcs = celestial_wcs(header)
    if wcs is None:
        return None
    cd = wcs.pixel_scale_matrix  # the CD matrix, also when the header gives PC + CDELT
    return {
        "crval": [float(value) for value in wcs.wcs.crval],
        "crpix": [float(value) for value in wcs.wcs.crpix],
        "cd1": [float(cd[0, 0]), float(cd[0, 1])],
        "cd2": [float(cd[1, 0]), float(cd[1, 1])],
        "fits_dimensions": [int(shape[1]), int(shape[0])],
    }


def pixel_to_sky(wcs: WCS | None, columns: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(ra, dec) in degrees of 0-based pixel positions, or None without a WCS."""
    if wcs is None:
        return None
    ra, dec = wcs.all_pix2world(np.asarray(columns, dtype=np.float64), np.asarray(rows, dtype=np.float64), 0)
    return np.asarray(ra, dtype=np.float64), np.asarray(dec, dtype=np.float64)


def sky_position(wcs: WCS | None, column: float, row: float) -> tuple[float, float] | None:
    """(ra, dec) of one 0-based pixel position, or None without a WCS or off the projection."""
    converted = pixel_to_sky(wcs, np.array([column]), np.array([row]))
    if converted is None:
        return None
    ra, dec = float(converted[0][0]), float(converted[1][0])
    return (ra, dec) if math.isfinite(ra) and math.isfinite(dec) else None


def separation_and_angle(start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    """Angular distance in arcsec and position angle (degrees east of north, 0-360) from start to end."""
    first = SkyCoord(start[0], start[1], unit="deg")
    second = SkyCoord(end[0], end[1], unit="deg")
    return float(first.separation(second).arcsec), float(first.position_angle(second).deg % 360.0)
