"""What one frame's header says about its exposure: times, site, detector and seeing.

Keywords follow the observatory's reduced frames (BANZAI): ``DATE-OBS``/``MJD-OBS`` (exposure start,
UTC), ``EXPTIME``, ``LATITUDE``/``LONGITUD`` (degrees East)/``HEIGHT`` (m), ``GAIN``, ``RDNOISE``,
``PIXSCALE``, ``AIRMASS`` and ``L1FWHM`` (arcsec). Anything missing is ``None`` (or the neutral
value the CCD equation needs), so one odd header never stops a series.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning

from data_operations.errors import OperationError

GAIN_KEYS = ("GAIN", "EGAIN")
READ_NOISE_KEYS = ("RDNOISE", "READNOIS", "READNOISE")


@dataclass(frozen=True)
class Site:
    """Geodetic site of the telescope: degrees (longitude East) and metres."""

    latitude: float
    longitude: float
    height: float


@dataclass(frozen=True)
class FrameFacts:
    """Header facts of one frame; times are UTC MJD."""

    start_mjd: float
    exptime: float
    filter: str | None
    object: str | None
    site: Site | None
    gain: float
    read_noise: float
    pixel_scale: float | None
    airmass: float | None
    fwhm_arcsec: float | None

    @property
    def mid_mjd(self) -> float:
        """Mid-exposure, UTC MJD: what every light-curve row is timed at."""
        return self.start_mjd + self.exptime / 2.0 / 86400.0


def _number(header: fits.Header, *keys: str) -> float | None:
    for key in keys:
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _text(header: fits.Header, key: str) -> str | None:
    value = header.get(key)
    return str(value).strip() if value not in (None, "") else None


def start_mjd(header: fits.Header, basename: str = "frame") -> float:
    """Exposure start as UTC MJD: ``MJD-OBS``, else ``DATE-OBS``; OperationError when neither is usable."""
    mjd = _number(header, "MJD-OBS")
    if mjd is not None:
        return mjd
    date_obs = header.get("DATE-OBS")
    if isinstance(date_obs, str) and date_obs.strip():
        try:
            return float(Time(date_obs.strip().rstrip("Z"), format="isot", scale="utc").mjd)
        except ValueError:
            pass
    raise OperationError(f"Frame {basename} has no usable DATE-OBS or MJD-OBS, so it cannot be placed in time.")


def celestial_wcs(header: fits.Header) -> WCS | None:
    """The frame's celestial WCS, or None when the header has none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception:  # noqa: BLE001 - any malformed WCS means "no WCS" to the caller
            return None
    return wcs.celestial if wcs.has_celestial else None


def pixel_scale(header: fits.Header, wcs: WCS | None) -> float | None:
    """Arcsec per pixel from the WCS (mean of both axes), else ``PIXSCALE``."""
    if wcs is not None:
        scales = wcs.proj_plane_pixel_scales()
        arcsec = float(np.mean([scale.to_value("arcsec") for scale in scales]))
        if math.isfinite(arcsec) and arcsec > 0:
            return arcsec
    value = _number(header, "PIXSCALE")
    return value if value and value > 0 else None


def frame_facts(header: fits.Header, basename: str = "frame", wcs: WCS | None = None) -> FrameFacts:
    """Read the facts the photometry needs from one science header.

    The pixel scale comes from ``wcs`` when given (pixel photometry parses it anyway), else from
    ``PIXSCALE``: catalogue photometry never pays for a WCS per frame.
    """
    latitude, longitude = _number(header, "LATITUDE"), _number(header, "LONGITUD")
    site = None
    if latitude is not None and longitude is not None and -90 <= latitude <= 90:
        site = Site(latitude=latitude, longitude=longitude, height=_number(header, "HEIGHT") or 0.0)
    gain = _number(header, *GAIN_KEYS)
    airmass = _number(header, "AIRMASS")
    fwhm = _number(header, "L1FWHM")
    return FrameFacts(
        start_mjd=start_mjd(header, basename),
        exptime=max(_number(header, "EXPTIME") or 0.0, 0.0),
        filter=_text(header, "FILTER"),
        object=_text(header, "OBJECT"),
        site=site,
        gain=gain if gain and gain > 0 else 1.0,
        read_noise=max(_number(header, *READ_NOISE_KEYS) or 0.0, 0.0),
        pixel_scale=pixel_scale(header, wcs),
        airmass=airmass if airmass is not None and airmass >= 1.0 else None,
        fwhm_arcsec=fwhm if fwhm is not None and fwhm > 0 else None,
    )
