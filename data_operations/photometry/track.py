"""A moving target's sky track: a low-order polynomial in time through position samples.

Samples ``{mjd, ra, dec}`` (UTC exposure midpoints, degrees) are projected onto the gnomonic
tangent plane about their mean direction, and each plane coordinate is fitted with a polynomial
of degree min(distinct times - 1, 2) in (mjd - mean mjd): a line through two samples, a parabola
through three or more (least squares when over-determined). The fitted plane positions are
projected back onto the sky at any time.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from data_operations.errors import OperationError

MINIMUM_TRACK_SAMPLES = 2
MAX_TRACK_DEGREE = 2
#: A straight line over a longer arc misses a real track's curvature.
LINEAR_TRACK_MAX_SPAN_HOURS = 12.0


@dataclass(frozen=True)
class TrackSample:
    """One known position of the target: UTC MJD (exposure midpoint) and degrees."""

    mjd: float
    ra: float
    dec: float


def _unit(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def to_plane(ra: np.ndarray, dec: np.ndarray, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic (xi, eta) in degrees about ``centre``; NaN for points 90 degrees or more away."""
    ra0, dec0 = np.radians(centre[0]), np.radians(centre[1])
    ra, dec = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.where(cos_c > 0, np.cos(dec) * np.sin(ra - ra0) / cos_c, np.nan)
        eta = np.where(cos_c > 0, (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0))
                       / cos_c, np.nan)
    return np.degrees(xi), np.degrees(eta)


def from_plane(xi: np.ndarray, eta: np.ndarray, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) in degrees of gnomonic (xi, eta) degrees about ``centre``."""
    ra0, dec0 = np.radians(centre[0]), np.radians(centre[1])
    xi, eta = np.radians(np.asarray(xi, float)), np.radians(np.asarray(eta, float))
    denominator = np.cos(dec0) - eta * np.sin(dec0)
    ra = ra0 + np.arctan2(xi, denominator)
    dec = np.arctan2(np.sin(dec0) + eta * np.cos(dec0), np.hypot(xi, denominator))
    return np.degrees(ra) % 360.0, np.degrees(dec)


@dataclass(frozen=True)
class FittedTrack:
    """Polynomials xi(t), eta(t) (degrees, t = mjd - ``mjd0`` in days) on the plane about ``centre``."""

    centre: tuple[float, float]
    mjd0: float
    xi: tuple[float, ...]
    eta: tuple[float, ...]
    degree: int
    first_mjd: float
    last_mjd: float

    def at(self, mjd: Sequence[float] | np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(ra, dec) in degrees at UTC MJD ``mjd``."""
        t = np.asarray(mjd, float) - self.mjd0
        return from_plane(np.polyval(self.xi, t), np.polyval(self.eta, t), self.centre)

    def residuals_arcsec(self, samples: Sequence[TrackSample]) -> np.ndarray:
        """Distances (arcsec) between ``samples`` and the track at their times."""
        ra, dec = self.at([s.mjd for s in samples])
        xi, eta = to_plane(ra, dec, self.centre)
        sample_xi, sample_eta = to_plane([s.ra for s in samples], [s.dec for s in samples], self.centre)
        return np.hypot(xi - sample_xi, eta - sample_eta) * 3600.0

    @property
    def span_hours(self) -> float:
        return (self.last_mjd - self.first_mjd) * 24.0

    def mean_rate_arcsec_per_minute(self) -> float:
        """Arc length over the sampled span divided by its duration."""
        if self.last_mjd <= self.first_mjd:
            return 0.0
        times = np.linspace(self.first_mjd, self.last_mjd, 65)
        xi, eta = (np.polyval(coefficients, times - self.mjd0) for coefficients in (self.xi, self.eta))
        return float(np.sum(np.hypot(np.diff(xi), np.diff(eta))) * 3600.0 / (self.span_hours * 60.0))


def fit_track(samples: Sequence[TrackSample], *, max_degree: int = MAX_TRACK_DEGREE) -> FittedTrack:
    """The track through ``samples``; OperationError when they cannot define one."""
    if len(samples) < MINIMUM_TRACK_SAMPLES:
        raise OperationError(f"A track needs at least {MINIMUM_TRACK_SAMPLES} positions at different times; got "
                             f"{len(samples)}.")
    mjd = np.array([s.mjd for s in samples], float)
    distinct = np.unique(mjd).size
    if distinct < MINIMUM_TRACK_SAMPLES:
        raise OperationError("The target's positions must be at two or more different times to define a track.")
    mean = _unit(np.array([s.ra for s in samples]), np.array([s.dec for s in samples])).mean(axis=0)
    centre = (math.degrees(math.atan2(mean[1], mean[0])) % 360.0,
              math.degrees(math.atan2(mean[2], math.hypot(mean[0], mean[1]))))
    xi, eta = to_plane([s.ra for s in samples], [s.dec for s in samples], centre)
    if not (np.all(np.isfinite(xi)) and np.all(np.isfinite(eta))):
        raise OperationError("The target's positions span more than 90 degrees of sky: they cannot be one track.")
    degree = min(distinct - 1, max_degree)
    mjd0 = float(mjd.mean())
    return FittedTrack(centre=centre, mjd0=mjd0, xi=tuple(np.polyfit(mjd - mjd0, xi, degree)),
                       eta=tuple(np.polyfit(mjd - mjd0, eta, degree)), degree=degree,
                       first_mjd=float(mjd.min()), last_mjd=float(mjd.max()))


def track_notes(track: FittedTrack, frame_mjd: Sequence[float], origin: str = "the given positions") -> list[str]:
    """What the user should know about the fitted track: its shape, extrapolation, a long straight line.

    ``origin`` names where the positions came from (the user's, or an ephemeris service).
    """
    shape = {1: "a straight line", 2: "a parabola"}.get(track.degree, f"a degree-{track.degree} polynomial")
    notes = [f"Target track: {shape} through {origin}, over {track.span_hours:.2f} h, mean rate "
             f"{track.mean_rate_arcsec_per_minute():.3f} arcsec/min."]
    outside = [t for t in frame_mjd if t < track.first_mjd - 1e-9 or t > track.last_mjd + 1e-9]
    if outside:
        worst = max(max(track.first_mjd - t, t - track.last_mjd) for t in outside) * 24.0
        notes.append(f"Extrapolated track: {len(outside)} frame(s) lie outside the time span of the given positions "
                     f"(up to {worst:.2f} h beyond it); their positions are less certain.")
    if track.degree == 1 and track.span_hours > LINEAR_TRACK_MAX_SPAN_HOURS:
        notes.append(f"The track is a straight line over {track.span_hours:.1f} h (more than "
                     f"{LINEAR_TRACK_MAX_SPAN_HOURS:g} h): real tracks curve over such arcs. Give a third position, "
                     "near the middle of the series, for a curved track.")
    return notes


def samples_from_input(operation: str, value: Any) -> list[TrackSample]:
    """``target_positions`` as sent by an API client; InputValidationError-worthy text as ValueError."""
    if not isinstance(value, list) or len(value) < MINIMUM_TRACK_SAMPLES:
        raise ValueError(f"{operation}: 'target_positions' must be a list of at least {MINIMUM_TRACK_SAMPLES} "
                         "{mjd, ra, dec} positions.")
    samples = []
    for position, item in enumerate(value, start=1):
        numbers = [item.get(key) if isinstance(item, dict) else None for key in ("mjd", "ra", "dec")]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
            raise ValueError(f"{operation}: target_positions item {position} needs numeric 'mjd' (UTC, exposure "
                             "midpoint), 'ra' and 'dec' (degrees).")
        mjd, ra, dec = (float(v) for v in numbers)
        if not (0 <= ra < 360 and -90 <= dec <= 90):
            raise ValueError(f"{operation}: target_positions item {position} has 'ra' outside 0..360 or 'dec' "
                             "outside -90..90.")
        samples.append(TrackSample(mjd, ra, dec))
    if len({s.mjd for s in samples}) != len(samples):
        raise ValueError(f"{operation}: 'target_positions' must be at distinct times (mjd).")
    return samples
