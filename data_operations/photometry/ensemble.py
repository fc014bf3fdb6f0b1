"""Differential calibration against one ensemble of comparison stars shared by every frame.

The model is the reference system's: the target's flux relative to the summed ensemble flux,
put on the catalogue's magnitude scale by the ensemble's catalogue magnitude. Comparisons are
chosen once for the whole series: a star that varies relative to the others (its scatter more than
3x the ensemble's median and 3x its own photon noise) or whose catalogue magnitude disagrees with
its measured one by more than 0.5 mag is rejected and named. The error floor is the scatter of the
ensemble stars beyond their own photon noise, added in quadrature to every target error.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data_operations.errors import OperationError

MAG_PER_FLUX_SIGMA = 2.5 / np.log(10.0)  # 1.0857
VARIABILITY_FACTOR = 3.0
CATALOG_OFFSET_LIMIT = 0.5
EXTRAPOLATION_LIMIT = 0.1
MIN_FRAMES_FOR_SCATTER = 3


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
    ensemble_range = candidates.catalog_mag[selected]
    typical = np.nanmedian(mag) if np.any(np.isfinite(mag)) else np.nan
    if np.isfinite(typical) and (typical < ensemble_range.min() - EXTRAPOLATION_LIMIT
                                 or typical > ensemble_range.max() + EXTRAPOLATION_LIMIT):
        notes.append(f"The target (median {typical:.2f} mag) lies outside the comparison stars' catalogue range "
                     f"{ensemble_range.min():.2f}-{ensemble_range.max():.2f} mag: its calibration is extrapolated.")
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
