"""Differential calibration against an ensemble of comparison stars.

The model is the reference system's: the target's flux relative to the summed ensemble flux,
put on the catalogue's magnitude scale by the ensemble's catalogue magnitude. Comparisons are
chosen once for the whole series: a star that varies relative to the others (its scatter more than
3x the ensemble's median and 3x its own photon noise) or whose catalogue magnitude disagrees with
its measured one by more than 0.5 mag is rejected and named. The error floor is the scatter of the
ensemble stars beyond their own photon noise, added in quadrature to every target error.

When no ensemble spans the series (the field moves under a moving target), ``calibrate_series``
falls back to the evolving solve: instrumental magnitudes m[c, f] = M_c - ZP_f over every star
and frame that share measurements, solved by alternating medians on a masked (stars x frames)
array, each connected group of stars and frames anchored to the catalogue, and every frame
calibrated against its own comparison stars.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from data_operations.errors import OperationError

MAG_PER_FLUX_SIGMA = 2.5 / np.log(10.0)  # 1.0857
VARIABILITY_FACTOR = 3.0
CATALOG_OFFSET_LIMIT = 0.5
EXTRAPOLATION_LIMIT = 0.1
MIN_FRAMES_FOR_SCATTER = 3
MAX_SOLVE_PASSES = 50
SOLVE_TOLERANCE_MAG = 1e-6


@dataclass
class Candidates:
    """Comparison candidates measured on every frame: arrays (stars, frames) and per-star facts."""

    ids: list[str]
    catalog_mag: np.ndarray
    net: np.ndarray
    error: np.ndarray
    isolation: np.ndarray


@dataclass
class Calibration:
    """The ensemble and the target's calibrated series (arrays per frame, NaN where not measurable)."""

    selected: list[int]
    check: int | None
    rejected: dict[str, str]
    ensemble_counts: np.ndarray
    ensemble_error: np.ndarray
    relative_flux: np.ndarray
    relative_flux_error: np.ndarray
    zero_point: np.ndarray
    mag: np.ndarray
    magerr: np.ndarray
    comparison_mag: np.ndarray  # (selected, frames) calibrated magnitudes of the ensemble stars
    check_mag: np.ndarray | None
    check_magerr: np.ndarray | None
    floor: float
    notes: list[str] = field(default_factory=list)
    #: (selected, frames): which ensemble stars calibrated each frame (None: all of them, a shared ensemble).
    used: np.ndarray | None = None
    #: Comparison stars per frame (a shared ensemble uses the same number on every frame).
    @property
    def comparisons_per_frame(self) -> np.ndarray:
        if self.used is None:
            return np.full(self.mag.size, len(self.selected))
        return self.used.sum(axis=0)


def instrumental(net: np.ndarray) -> np.ndarray:
    """-2.5 log10 of positive counts, NaN elsewhere."""
    net = np.asarray(net, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(net > 0, -2.5 * np.log10(np.where(net > 0, net, 1.0)), np.nan)


def _mag_error(net: np.ndarray, error: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(net > 0, MAG_PER_FLUX_SIGMA * error / net, np.nan)


def _reject(candidates: Candidates, pool: np.ndarray, rejected: dict[str, str], notes: list[str]) -> np.ndarray:
    """Candidates kept after the variability and catalogue-offset tests."""
    mags = instrumental(candidates.net[pool])
    errors = _mag_error(candidates.net[pool], candidates.error[pool])
    if pool.size >= 3 and mags.shape[1] >= MIN_FRAMES_FOR_SCATTER:
        relative = mags - np.median(mags, axis=0, keepdims=True)
        scatter = np.std(relative, axis=1)
        photon = np.median(errors, axis=1)
        variable = (scatter > VARIABILITY_FACTOR * np.median(scatter)) & (scatter > VARIABILITY_FACTOR * photon)
        for position in np.flatnonzero(variable):
            star = candidates.ids[pool[position]]
            rejected[star] = f"varies by {scatter[position]:.3f} mag rms against the other comparisons"
            notes.append(f"Comparison star {star} was rejected: it varies by {scatter[position]:.3f} mag rms "
                         "against the other comparison stars.")
        pool = pool[~variable]
    if pool.size >= 3:
        offsets = candidates.catalog_mag[pool] - np.median(instrumental(candidates.net[pool]), axis=1)
        outlier = np.abs(offsets - np.median(offsets)) > CATALOG_OFFSET_LIMIT
        for position in np.flatnonzero(outlier):
            star = candidates.ids[pool[position]]
            departure = offsets[position] - np.median(offsets)
            rejected[star] = f"catalogue magnitude disagrees with the measured one by {departure:+.2f} mag"
            notes.append(f"Comparison star {star} was rejected: its catalogue magnitude disagrees with the "
                         f"measured one by {departure:+.2f} mag.")
        pool = pool[~outlier]
    return pool


def calibrate(target_net: np.ndarray, target_error: np.ndarray, candidates: Candidates, *,
              min_comparisons: int, max_comparisons: int) -> Calibration:
    """Select the ensemble and calibrate the target; OperationError when too few comparisons remain."""
    target_net, target_error = np.asarray(target_net, float), np.asarray(target_error, float)
    rejected: dict[str, str] = {}
    notes: list[str] = []
    measured = np.all((candidates.net > 0) & np.isfinite(candidates.error), axis=1) \
        & np.isfinite(candidates.catalog_mag)
    if not measured.all():
        notes.append(f"{int((~measured).sum())} comparison candidate(s) could not be measured on every frame (near "
                     "an edge, a masked pixel in the aperture, or no flux) and were not used.")
    pool = _reject(candidates, np.flatnonzero(measured), rejected, notes)
    if pool.size < min_comparisons:
        raise OperationError(
            f"Only {pool.size} comparison star(s) were measurable on every frame with a consistent catalogue "
            f"magnitude; at least {min_comparisons} are needed. Use frames of one field with a source catalogue, "
            "or lower min_comparisons.")
    target_proxy = np.nanmedian(instrumental(target_net)) if np.any(target_net > 0) else np.nan
    median_mag = np.median(instrumental(candidates.net[pool]), axis=1)
    distance = np.abs(median_mag - target_proxy) if np.isfinite(target_proxy) else median_mag
    order = sorted(range(pool.size), key=lambda i: (distance[i], -candidates.isolation[pool[i]],
                                                    candidates.ids[pool[i]]))
    selected = [int(pool[i]) for i in order[:max_comparisons]]
    check = int(pool[order[max_comparisons]]) if len(order) > max_comparisons else None

    net, error = candidates.net[selected], candidates.error[selected]
    ensemble_counts = net.sum(axis=0)
    ensemble_variance = (error ** 2).sum(axis=0)
    ensemble_mag = -2.5 * np.log10(np.sum(10 ** (-0.4 * candidates.catalog_mag[selected])))
    zero_point = 2.5 * np.log10(ensemble_counts) + ensemble_mag
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = target_net / ensemble_counts
        relative_error = np.abs(relative) * np.sqrt((target_error / target_net) ** 2
                                                    + ensemble_variance / ensemble_counts ** 2)
    mag = instrumental(target_net) + zero_point
    magerr = np.where(target_net > 0, MAG_PER_FLUX_SIGMA * relative_error / np.abs(relative), np.nan)
    comparison_mag = instrumental(net) + zero_point
    floor = _error_floor(comparison_mag, _mag_error(net, error))
    if floor > 0:
        magerr = np.sqrt(magerr ** 2 + floor ** 2)
        notes.append(f"An error floor of {floor * 1000:.1f} mmag (the comparison stars' scatter beyond their "
                     "photon noise) was added in quadrature to every magnitude error.")
    check_mag = check_magerr = None
    if check is not None:
        check_mag = instrumental(candidates.net[check]) + zero_point
        check_magerr = np.sqrt(_mag_error(candidates.net[check], candidates.error[check]) ** 2 + floor ** 2)
    notes.extend(_extrapolation_notes(mag, candidates.catalog_mag[selected]))
    return Calibration(selected=selected, check=check, rejected=rejected, ensemble_counts=ensemble_counts,
                       ensemble_error=np.sqrt(ensemble_variance), relative_flux=relative,
                       relative_flux_error=relative_error, zero_point=zero_point, mag=mag, magerr=magerr,
                       comparison_mag=comparison_mag, check_mag=check_mag, check_magerr=check_magerr, floor=floor,
                       notes=notes)


def _error_floor(calibrated: np.ndarray, formal: np.ndarray) -> float:
    """Median over ensemble stars of their scatter beyond photon noise (0 with too few frames)."""
    if calibrated.shape[1] < MIN_FRAMES_FOR_SCATTER:
        return 0.0
    scatter = np.std(calibrated, axis=1, ddof=1)
    excess = np.sqrt(np.maximum(scatter ** 2 - np.median(formal, axis=1) ** 2, 0.0))
    return float(np.median(excess))


def _extrapolation_notes(mag: np.ndarray, ensemble_catalog_mag: np.ndarray) -> list[str]:
    """A note when the target's median magnitude lies outside the ensemble's catalogue range."""
    typical = np.nanmedian(mag) if np.any(np.isfinite(mag)) else np.nan
    low, high = np.nanmin(ensemble_catalog_mag), np.nanmax(ensemble_catalog_mag)
    if np.isfinite(typical) and (typical < low - EXTRAPOLATION_LIMIT or typical > high + EXTRAPOLATION_LIMIT):
        return [f"The target (median {typical:.2f} mag) lies outside the comparison stars' catalogue range "
                f"{low:.2f}-{high:.2f} mag: its calibration is extrapolated."]
    return []


def calibrate_series(target_net: np.ndarray, target_error: np.ndarray, candidates: Candidates, *,
                     min_comparisons: int, max_comparisons: int) -> Calibration:
    """A shared ensemble when one spans the series, else the evolving solve (with a note saying so)."""
    try:
        return calibrate(target_net, target_error, candidates, min_comparisons=min_comparisons,
                         max_comparisons=max_comparisons)
    except OperationError:
        evolving = calibrate_evolving(target_net, target_error, candidates, min_comparisons=min_comparisons,
                                      max_comparisons=max_comparisons)
        evolving.notes.insert(0, f"Evolving calibration: fewer than {min_comparisons} comparison stars were "
                                 "measurable on every frame, so each frame was calibrated against its own comparison "
                                 "stars, tied to its neighbours' through the stars they share.")
        return evolving


def _quiet_nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def _components(valid: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected groups of the star-frame graph: (count, label per star, label per frame); -1 when unlinked."""
    stars, frames = valid.shape
    rows, cols = np.nonzero(valid)
    graph = coo_matrix((np.ones(rows.size), (rows, stars + cols)), shape=(stars + frames, stars + frames))
    _, labels = connected_components(graph, directed=False)
    star_labels, frame_labels = labels[:stars].copy(), labels[stars:].copy()
    star_labels[~valid.any(axis=1)] = -1
    frame_labels[~valid.any(axis=0)] = -1
    kept = np.unique(star_labels[star_labels >= 0])
    remap = {old: new for new, old in enumerate(kept)}
    star_labels = np.array([remap.get(label, -1) for label in star_labels], dtype=int)
    frame_labels = np.array([remap.get(label, -1) for label in frame_labels], dtype=int)
    return len(kept), star_labels, frame_labels


def solve_zero_points(mags: np.ndarray, valid: np.ndarray,
                      catalog_mag: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Alternating medians for m[c, f] + ZP_f = M_c over the ``valid`` cells, each group anchored to the catalogue.

    Returns (M per star, ZP per frame, number of groups, group of each frame); NaN where unconstrained.
    """
    groups, star_group, frame_group = _components(valid)
    magnitude = np.where(star_group >= 0, catalog_mag, np.nan)
    zero_point = np.full(valid.shape[1], np.nan)
    masked = np.where(valid, mags, np.nan)
    for _ in range(MAX_SOLVE_PASSES):
        new_zero = _quiet_nanmedian(magnitude[:, None] - masked, axis=0)
        new_magnitude = _quiet_nanmedian(masked + new_zero[None, :], axis=1)
        for group in range(groups):
            in_group = star_group == group
            shift = np.nanmedian(new_magnitude[in_group] - catalog_mag[in_group])
            new_magnitude[in_group] -= shift
            new_zero[frame_group == group] -= shift
        change = np.nanmax(np.abs(np.concatenate([new_magnitude - magnitude, new_zero - zero_point])),
                           initial=0.0) if np.any(np.isfinite(zero_point)) else np.inf
        magnitude, zero_point = new_magnitude, new_zero
        if change < SOLVE_TOLERANCE_MAG:
            break
    return magnitude, zero_point, groups, frame_group


def calibrate_evolving(target_net: np.ndarray, target_error: np.ndarray, candidates: Candidates, *,
                       min_comparisons: int, max_comparisons: int) -> Calibration:
    """Per-frame ensembles tied together through shared stars (for fields that move under the target).

    Stars whose residuals scatter more than 3x the ensemble's median and 3x their photon noise, or
    whose catalogue magnitude departs from the solved one by more than 0.5 mag, are rejected and
    the solve repeated. Each frame then takes its ``max_comparisons`` stars closest in brightness
    to the target: ZP_f = median(M_c - m[c, f]), with the standard error of that median's mean as
    its uncertainty. Frames with fewer than ``min_comparisons`` stars stay uncalibrated (NaN).
    """
    target_net, target_error = np.asarray(target_net, float), np.asarray(target_error, float)
    notes: list[str] = []
    rejected: dict[str, str] = {}
    mags = instrumental(candidates.net)
    errors = _mag_error(candidates.net, candidates.error)
    valid = np.isfinite(mags) & np.isfinite(errors) & np.isfinite(candidates.catalog_mag)[:, None]
    magnitude, zero_point, groups, frame_group = solve_zero_points(mags, valid, candidates.catalog_mag)
    residual = np.where(valid, mags + zero_point[None, :] - magnitude[:, None], np.nan)
    seen = valid.sum(axis=1)
    scored = seen >= MIN_FRAMES_FOR_SCATTER
    drop = np.zeros(valid.shape[0], dtype=bool)
    if scored.sum() >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scatter = np.nanstd(residual, axis=1)
            photon = np.nanmedian(np.where(valid, errors, np.nan), axis=1)
        typical = np.median(scatter[scored])
        variable = scored & (scatter > VARIABILITY_FACTOR * typical) & (scatter > VARIABILITY_FACTOR * photon)
        for star in np.flatnonzero(variable):
            rejected[candidates.ids[star]] = f"varies by {scatter[star]:.3f} mag rms against the other comparisons"
            notes.append(f"Comparison star {candidates.ids[star]} was rejected: it varies by {scatter[star]:.3f} mag "
                         "rms against the other comparison stars.")
        drop |= variable
    offsets = candidates.catalog_mag - magnitude
    linked = np.isfinite(offsets) & ~drop
    if linked.sum() >= 3:
        departure = offsets - np.median(offsets[linked])
        outlier = linked & (np.abs(departure) > CATALOG_OFFSET_LIMIT)
        for star in np.flatnonzero(outlier):
            rejected[candidates.ids[star]] = (f"catalogue magnitude disagrees with the measured one by "
                                              f"{departure[star]:+.2f} mag")
            notes.append(f"Comparison star {candidates.ids[star]} was rejected: its catalogue magnitude disagrees "
                         f"with the measured one by {departure[star]:+.2f} mag.")
        drop |= outlier
    if drop.any():
        valid &= ~drop[:, None]
        magnitude, zero_point, groups, frame_group = solve_zero_points(mags, valid, candidates.catalog_mag)

    target_mag = instrumental(target_net)
    frames = valid.shape[1]
    used = np.zeros_like(valid)
    for frame in range(frames):
        stars = np.flatnonzero(valid[:, frame] & np.isfinite(magnitude))
        if np.isfinite(target_mag[frame]):
            closeness = np.abs(mags[stars, frame] - target_mag[frame])
        else:
            closeness = np.abs(mags[stars, frame] - np.nanmedian(target_mag)) if np.any(np.isfinite(target_mag)) \
                else mags[stars, frame]
        order = np.lexsort((np.asarray(candidates.ids)[stars], closeness))
        used[stars[order[:max_comparisons]], frame] = True
    counts = used.sum(axis=0)
    calibrated = counts >= min_comparisons
    frame_zero = np.full(frames, np.nan)
    frame_zero_error = np.full(frames, np.nan)
    for frame in np.flatnonzero(calibrated):
        stars = np.flatnonzero(used[:, frame])
        estimates = magnitude[stars] - mags[stars, frame]
        frame_zero[frame] = np.median(estimates)
        frame_zero_error[frame] = np.std(estimates, ddof=1) / np.sqrt(stars.size) if stars.size > 1 \
            else errors[stars[0], frame]
    if not calibrated.any():
        raise OperationError(
            f"No frame had {min_comparisons} measurable comparison stars with catalogue magnitudes, so the target "
            "could not be calibrated. Use frames with a source catalogue, or lower min_comparisons.")
    uncalibrated = int((~calibrated).sum())
    if uncalibrated:
        notes.append(f"{uncalibrated} frame(s) had fewer than {min_comparisons} usable comparison stars and were "
                     "left uncalibrated (no magnitude).")
    if groups > 1:
        notes.append(f"The frames fall into {groups} groups that share no comparison star; each group is tied to the "
                     "catalogue on its own, so magnitude steps may exist between them.")

    selected = [int(star) for star in np.flatnonzero(used.any(axis=1))]
    used_selected = used[selected]
    net = np.where(used_selected, candidates.net[selected], 0.0)
    variance = np.where(used_selected, candidates.error[selected] ** 2, 0.0)
    ensemble_counts = np.where(calibrated, net.sum(axis=0), np.nan)
    ensemble_variance = np.where(calibrated, variance.sum(axis=0), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = target_net / ensemble_counts
        relative_error = np.abs(relative) * np.sqrt((target_error / target_net) ** 2
                                                    + ensemble_variance / ensemble_counts ** 2)
    mag = target_mag + frame_zero
    magerr = np.hypot(_mag_error(target_net, target_error), frame_zero_error)
    comparison_mag = np.where(used_selected, mags[selected] + frame_zero[None, :], np.nan)
    floor = _sparse_error_floor(comparison_mag, np.where(used_selected, errors[selected], np.nan))
    if floor > 0:
        magerr = np.sqrt(magerr ** 2 + floor ** 2)
        notes.append(f"An error floor of {floor * 1000:.1f} mmag (the comparison stars' scatter beyond their "
                     "photon noise) was added in quadrature to every magnitude error.")
    notes.extend(_extrapolation_notes(mag, candidates.catalog_mag[selected]))
    return Calibration(selected=selected, check=None, rejected=rejected, ensemble_counts=ensemble_counts,
                       ensemble_error=np.sqrt(ensemble_variance), relative_flux=relative,
                       relative_flux_error=relative_error, zero_point=frame_zero, mag=mag, magerr=magerr,
                       comparison_mag=comparison_mag, check_mag=None, check_magerr=None, floor=floor, notes=notes,
                       used=used_selected)


def _sparse_error_floor(calibrated: np.ndarray, formal: np.ndarray) -> float:
    """As ``_error_floor`` for stars measured on some frames only (those seen on 3 or more count)."""
    seen = np.isfinite(calibrated).sum(axis=1) >= MIN_FRAMES_FOR_SCATTER
    if not seen.any():
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scatter = np.nanstd(calibrated[seen], axis=1, ddof=1)
        excess = np.sqrt(np.maximum(scatter ** 2 - np.nanmedian(formal[seen], axis=1) ** 2, 0.0))
    return float(np.median(excess))
