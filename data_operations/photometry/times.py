"""Times and airmass of a series of frames: mid-exposure UTC, JD, BJD_TDB and sec z, offline.

Astropy's bundled IERS tables (``astropy-iers-data``) are used and never refreshed from the
network: a frame dated past the bundled table degrades to a warning (sub-second UT1 error, far
below what BJD or airmass need) instead of a download.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers
from astropy.utils.exceptions import AstropyWarning

from data_operations.photometry.frame_facts import FrameFacts, Site

iers.conf.auto_download = False
iers.conf.iers_degraded_accuracy = "warn"
iers.conf.auto_max_age = None


@dataclass(frozen=True)
class SeriesTimes:
    """Per-frame times (arrays in input order); NaN where a value cannot be known."""

    observation_date: list[str]  # mid-exposure, ISO-8601 UTC with Z
    date_obs: list[str]  # exposure start, ISO-8601 UTC with Z
    julian_date: np.ndarray  # JD UTC, mid-exposure
    bjd_tdb: np.ndarray  # BJD_TDB, mid-exposure (NaN without a site)
    airmass: np.ndarray  # header AIRMASS, else sec z at mid-exposure (NaN without a site or below the horizon)


def _iso(times: Time) -> list[str]:
    return [f"{value}Z" for value in times.isot]


def series_times(facts: Sequence[FrameFacts], ra: float | Sequence[float],
                 dec: float | Sequence[float]) -> SeriesTimes:
    """Times of every frame towards the target at (``ra``, ``dec``) degrees: one position, or one per frame
    (a moving target, whose light-travel time and airmass follow it)."""
    count = len(facts)
    mid = Time(np.array([fact.mid_mjd for fact in facts], dtype=float), format="mjd", scale="utc")
    start = Time(np.array([fact.start_mjd for fact in facts], dtype=float), format="mjd", scale="utc")
    bjd = np.full(count, np.nan)
    airmass = np.array([fact.airmass if fact.airmass is not None else np.nan for fact in facts])
    target = SkyCoord(np.asarray(ra, dtype=float) * u.deg, np.asarray(dec, dtype=float) * u.deg)
    by_site: dict[Site, list[int]] = defaultdict(list)
    for index, fact in enumerate(facts):
        if fact.site is not None:
            by_site[fact.site].append(index)
    for site, indices in by_site.items():
        location = EarthLocation.from_geodetic(site.longitude * u.deg, site.latitude * u.deg, site.height * u.m)
        at_site = Time(mid.mjd[indices], format="mjd", scale="utc", location=location)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            towards = target if target.isscalar else target[indices]
            bjd[indices] = (at_site.tdb + at_site.light_travel_time(towards, kind="barycentric")).jd
            missing = [i for i in indices if np.isnan(airmass[i])]
            if missing:
                frames = Time(mid.mjd[missing], format="mjd", scale="utc")
                seen = target if target.isscalar else target[missing]
                secz = seen.transform_to(AltAz(obstime=frames, location=location)).secz.value
                airmass[missing] = np.where(np.asarray(secz) >= 1.0, secz, np.nan)
    return SeriesTimes(observation_date=_iso(mid), date_obs=_iso(start), julian_date=np.asarray(mid.jd, dtype=float),
                       bjd_tdb=bjd, airmass=airmass)
