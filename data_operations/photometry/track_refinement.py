"""Refining a moving target's predicted track from the frames' own catalogues.

The given positions (a user's, or an ephemeris) predict where the target is on each frame. The
catalogue source nearest each prediction, within the search radius, is taken as the target's
detection unless it is a field star: a source that reappears within 1.5 arcsec on frames where
the target would have moved away from it. A track is then fitted through the detections, outliers
(beyond 3 robust sigma, at least 1 arcsec) clipped, and when the detections make sense (three or
more, and moving when the prediction moves) the final track is fitted through the detections
and the given positions that agree with them (a position farther from the detections' track than
the clipping limit is left out, with a note). Otherwise the prediction stands, and a note says why.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from data_operations.photometry.catalog import separation_arcsec
from data_operations.photometry.track import FittedTrack, TrackSample, fit_track

STATIC_SOURCE_MATCH_ARCSEC = 1.5
MIN_REFINEMENT_FRAMES = 3
MIN_DETECTIONS = 3
CLIP_PASSES = 3
CLIP_SIGMA = 3.0
CLIP_FLOOR_ARCSEC = 1.0
#: Detections spread less than this while the prediction moves this much or more: a stationary star.
MIN_DETECTION_SPREAD_ARCSEC = 2.0


@dataclass
class FrameSources:
    """One frame's time (UTC MJD, exposure midpoint) and its catalogued positions (degrees)."""

    mjd: float
    ra: np.ndarray
    dec: np.ndarray


@dataclass
class Refinement:
    """The track to measure along, the detections it rests on (frame index -> sample) and notes."""

    track: FittedTrack
    detections: dict[int, TrackSample]
    refined: bool
    notes: list[str] = field(default_factory=list)


def _max_spread_arcsec(ra: np.ndarray, dec: np.ndarray) -> float:
    if ra.size < 2:
        return 0.0
    return float(separation_arcsec(ra[:, None], dec[:, None], ra[None, :], dec[None, :]).max())


def _detections(predicted_ra: np.ndarray, predicted_dec: np.ndarray, frames: Sequence[FrameSources],
                search_radius: float) -> tuple[dict[int, TrackSample], int]:
    """Per frame, the nearest non-stationary source within ``search_radius`` of the prediction."""
    moves = separation_arcsec(predicted_ra[:, None], predicted_dec[:, None], predicted_ra[None, :],
                              predicted_dec[None, :])
    discriminating = moves > STATIC_SOURCE_MATCH_ARCSEC
    coords = [SkyCoord(frame.ra * u.deg, frame.dec * u.deg) if frame.ra.size else None for frame in frames]
    picks: dict[int, TrackSample] = {}
    stationary_skipped = 0
    for index, frame in enumerate(frames):
        if frame.ra.size == 0:
            continue
        distance = separation_arcsec(frame.ra, frame.dec, predicted_ra[index], predicted_dec[index])
        near = np.flatnonzero(distance <= search_radius)
        if near.size == 0:
            continue
        near = near[np.argsort(distance[near])]
        partners = [other for other in np.flatnonzero(discriminating[index]) if coords[other] is not None]
        reappearances = np.zeros(near.size, dtype=int)
        if len(partners) >= 2:
            sources = SkyCoord(frame.ra[near] * u.deg, frame.dec[near] * u.deg)
            for other in partners:
                _, separation, _ = sources.match_to_catalog_sky(coords[other])
                reappearances += separation.arcsec <= STATIC_SOURCE_MATCH_ARCSEC
            stationary = reappearances >= min(3, len(partners))
        else:
            stationary = np.zeros(near.size, dtype=bool)
        stationary_skipped += int(np.argmax(~stationary)) if (~stationary).any() else int(stationary.sum())
        if (~stationary).any():
            row = near[np.argmax(~stationary)]
            picks[index] = TrackSample(frame.mjd, float(frame.ra[row]), float(frame.dec[row]))
    return picks, stationary_skipped


def refine_track(prediction: FittedTrack, samples: Sequence[TrackSample], frames: Sequence[FrameSources],
                 search_radius: float) -> Refinement:
    """The refined track along ``frames`` (or ``prediction`` with the reason it stands)."""
    if len(frames) < MIN_REFINEMENT_FRAMES:
        return Refinement(prediction, {}, False, [
            f"The track was not refined from the catalogues: {len(frames)} frame(s), {MIN_REFINEMENT_FRAMES} are "
            "needed; the target was measured at the given positions."])
    predicted_ra, predicted_dec = prediction.at([frame.mjd for frame in frames])
    picks, skipped = _detections(np.atleast_1d(predicted_ra), np.atleast_1d(predicted_dec), frames, search_radius)
    found = (f"{len(picks)} of {len(frames)} frames had a catalogued source within {search_radius:g} arcsec of the "
             f"predicted position ({skipped} stationary source(s) passed over as field stars)")
    if len(picks) < MIN_DETECTIONS:
        return Refinement(prediction, {}, False, [f"The track was not refined: {found}; at least {MIN_DETECTIONS} "
                                                  "are needed, so the target was measured at the given positions."])
    accepted = dict(picks)
    clipped = 0
    limit = CLIP_SIGMA * CLIP_FLOOR_ARCSEC
    for _ in range(CLIP_PASSES):
        if len(accepted) < MIN_DETECTIONS:
            break
        through = fit_track(list(accepted.values()))
        residual = through.residuals_arcsec(list(accepted.values()))
        limit = CLIP_SIGMA * max(1.4826 * float(np.median(residual)), CLIP_FLOOR_ARCSEC)
        outliers = [index for index, distance in zip(list(accepted), residual, strict=True) if distance > limit]
        if not outliers:
            break
        clipped += len(outliers)
        for index in outliers:
            del accepted[index]
    detection_ra = np.array([s.ra for s in accepted.values()])
    detection_dec = np.array([s.dec for s in accepted.values()])
    prediction_spread = _max_spread_arcsec(np.atleast_1d(predicted_ra), np.atleast_1d(predicted_dec))
    if len(accepted) < MIN_DETECTIONS:
        return Refinement(prediction, {}, False, [
            f"The track was not refined: {found}, but only {len(accepted)} stayed on a common track after "
            f"{clipped} outlier(s) were clipped; the target was measured at the given positions."])
    if _max_spread_arcsec(detection_ra, detection_dec) < MIN_DETECTION_SPREAD_ARCSEC \
            and prediction_spread >= MIN_DETECTION_SPREAD_ARCSEC:
        return Refinement(prediction, {}, False, [
            f"The track was not refined: the detections near the predicted positions do not move (less than "
            f"{MIN_DETECTION_SPREAD_ARCSEC:g} arcsec apart) while the target should; they are a field star, so the "
            "target was measured at the given positions."])
    detected = fit_track(list(accepted.values()))
    sample_residual = detected.residuals_arcsec(samples)
    agreeing = [given for given, distance in zip(samples, sample_residual, strict=True) if distance <= limit]
    refined = fit_track([*accepted.values(), *agreeing])
    residual = refined.residuals_arcsec(list(accepted.values()))
    new_ra, new_dec = refined.at([frame.mjd for frame in frames])
    moved = separation_arcsec(np.atleast_1d(new_ra), np.atleast_1d(new_dec), np.atleast_1d(predicted_ra),
                              np.atleast_1d(predicted_dec))
    note = (f"Track refined from the catalogues: {found}; {clipped} rejected as outliers; residual RMS "
            f"{float(np.sqrt(np.mean(residual ** 2))):.2f} arcsec; median move from the prediction "
            f"{float(np.median(moved)):.2f} arcsec.")
    notes = [note]
    if len(agreeing) < len(samples):
        notes.append(f"{len(samples) - len(agreeing)} of the {len(samples)} given positions lie more than "
                     f"{limit:.1f} arcsec (up to {float(sample_residual.max()):.1f}) from the track of the detections "
                     "and were left out of the refined track.")
    return Refinement(refined, accepted, True, notes)
