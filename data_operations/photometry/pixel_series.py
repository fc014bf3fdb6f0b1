"""The pixel engine: differential aperture photometry of a target over a series of frames.

Per frame, one read of the pixels (with the ``BPM`` and ``ERR`` planes when present) measures the
target and every comparison candidate at once. Candidates are the frames' catalogued stars seen on
at least 80 % of the frames (cross-matched within 2.5 arcsec), away from the target and the edges;
the shared ensemble (``ensemble``) then calibrates the target on the catalogue's magnitude scale.

A moving target has a position per frame (``positions``). Its candidates are every catalogued star
clustered across all frames (the field may turn over completely along the track); a star is left
out on the frames where the target passes near it, and the calibration falls back to the evolving
solve when no ensemble spans the series.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from data_operations.errors import OperationError
from data_operations.photometry import output
from data_operations.photometry.apertures import Measurement, Radii, measure
from data_operations.photometry.catalog import clean_rows, missing_columns, separation_arcsec
from data_operations.photometry.catalog_series import period_of
from data_operations.photometry.ensemble import Calibration, Candidates, calibrate, calibrate_series, instrumental
from data_operations.photometry.frame_facts import FrameFacts, celestial_wcs, frame_facts
from data_operations.photometry.overlay import Thumbnail, overlay_jpeg, thumbnail
from data_operations.photometry.times import series_times

CROSSMATCH_ARCSEC = 2.5
COVERAGE_FRACTION = 0.8
TARGET_PROXIMITY_FACTOR = 2.0
MAX_TARGET_SHIFT_PX = 6.0
MAX_CANDIDATE_MEASUREMENTS = 200_000
MIN_CANDIDATES = 50
FRAME_COVERAGE_FRACTION = 0.5
#: Frames that get a diagnostic picture, spread evenly over the series.
MAX_DIAGNOSTIC_IMAGES = 20
CATALOG_COLUMNS = ("ra", "dec", "mag", "flux")


class PlanesLike(Protocol):
    image: np.ndarray
    bad: np.ndarray | None
    error: np.ndarray | None


class PixelFrameLike(Protocol):
    basename: str
    header: fits.Header
    shape: tuple[int, int]
    catalog: dict[str, np.ndarray] | None

    def planes(self) -> PlanesLike: ...


@dataclass(frozen=True)
class ApertureSettings:
    """Radii in arcsec and the ensemble size limits."""

    aperture_radius: float
    annulus_inner_radius: float
    annulus_outer_radius: float
    min_comparisons: int
    max_comparisons: int


@dataclass
class UsableFrame:
    frame: PixelFrameLike
    facts: FrameFacts
    wcs: WCS
    target_xy: tuple[float, float]
    #: The target's (ra, dec) on this frame, degrees.
    target_sky: tuple[float, float]


@dataclass
class CandidateCatalog:
    """Cross-matched comparison candidates: positions, reference magnitudes, per-frame catalogue fluxes."""

    ids: list[str]
    ra: np.ndarray
    dec: np.ndarray
    reference_mag: np.ndarray
    catalog_flux: np.ndarray  # (candidates, frames), NaN where not catalogued
    coverage: np.ndarray
    isolation: np.ndarray
    notes: list[str] = field(default_factory=list)


def _usable_frames(frames: Sequence[PixelFrameLike], ra: float, dec: float, outer_arcsec: float,
                   excluded: dict[str, str],
                   positions: Mapping[str, tuple[float, float]] | None = None) -> list[UsableFrame]:
    usable = []
    covered_anywhere = False
    fixed = (ra, dec)
    for frame in frames:
        ra, dec = positions.get(frame.basename, fixed) if positions else fixed
        wcs = celestial_wcs(frame.header)
        try:
            facts = frame_facts(frame.header, frame.basename, wcs)
        except OperationError as error:
            excluded[frame.basename] = str(error)
            continue
        if wcs is None or facts.pixel_scale is None:
            excluded[frame.basename] = "the frame has no celestial WCS"
            continue
        lacking = missing_columns(frame.catalog, CATALOG_COLUMNS)
        if lacking:
            excluded[frame.basename] = f"its CAT table has no {', '.join(lacking)} column"
            continue
        x, y = (float(v) for v in wcs.world_to_pixel_values(ra, dec))
        ny, nx = frame.shape
        if not (math.isfinite(x) and math.isfinite(y) and -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5):
            excluded[frame.basename] = "the target is not on this frame"
            continue
        covered_anywhere = True
        margin = outer_arcsec / facts.pixel_scale
        if not (x - margin >= -0.5 and y - margin >= -0.5 and x + margin <= nx - 0.5 and y + margin <= ny - 0.5):
            excluded[frame.basename] = "the target's sky annulus crosses the frame edge"
            continue
        usable.append(UsableFrame(frame, facts, wcs, (x, y), (ra, dec)))
    if not covered_anywhere and not usable:
        if not any(reason.startswith("the target is not") for reason in excluded.values()):
            reasons = "; ".join(f"{name}: {why}" for name, why in list(excluded.items())[:5])
            raise OperationError(f"No input frame can be measured ({reasons}).")
        raise OperationError(f"The target at RA {fixed[0]:.5f}, Dec {fixed[1]:.5f} lies outside every input frame; "
                             "choose frames that cover it.")
    if not usable:
        reasons = "; ".join(f"{name}: {why}" for name, why in list(excluded.items())[:5])
        raise OperationError(f"No input frame can be measured ({reasons}).")
    return usable


def _candidates(usable: list[UsableFrame], ra: float, dec: float, settings: ApertureSettings) -> CandidateCatalog:
    """Stars catalogued on at least 80 % of the frames, matched to the frame with the most clean rows."""
    clean = [clean_rows(item.frame.catalog) for item in usable]
    reference_index = int(np.argmax([mask.sum() for mask in clean]))
    reference = usable[reference_index].frame.catalog
    ref_ra = np.asarray(reference["ra"], dtype=float)[clean[reference_index]]
    ref_dec = np.asarray(reference["dec"], dtype=float)[clean[reference_index]]
    reference_coords = SkyCoord(ref_ra * u.deg, ref_dec * u.deg)
    frames = len(usable)
    mags = np.full((ref_ra.size, frames), np.nan)
    fluxes = np.full((ref_ra.size, frames), np.nan)
    for column, (item, mask) in enumerate(zip(usable, clean, strict=True)):
        catalog = item.frame.catalog
        if not mask.any() or ref_ra.size == 0:
            continue
        coords = SkyCoord(np.asarray(catalog["ra"], float)[mask] * u.deg, np.asarray(catalog["dec"], float)[mask]
                          * u.deg)
        index, separation, _ = coords.match_to_catalog_sky(reference_coords)
        close = separation.arcsec <= CROSSMATCH_ARCSEC
        # One row per reference star per frame: the closest.
        order = np.argsort(separation.arcsec)
        taken = np.zeros(ref_ra.size, dtype=bool)
        for row in order[close[order]]:
            star = index[row]
            if not taken[star]:
                taken[star] = True
                mags[star, column] = np.asarray(catalog["mag"], float)[mask][row]
                fluxes[star, column] = np.asarray(catalog["flux"], float)[mask][row]
    coverage = np.isfinite(mags).sum(axis=1)
    keep = coverage >= math.ceil(COVERAGE_FRACTION * frames)
    target_distance = SkyCoord(ra * u.deg, dec * u.deg).separation(reference_coords).arcsec
    keep &= target_distance > max(TARGET_PROXIMITY_FACTOR * settings.aperture_radius, settings.annulus_outer_radius)
    if ref_ra.size >= 2:
        _, neighbour, _ = reference_coords.match_to_catalog_sky(reference_coords, nthneighbor=2)
        isolation = neighbour.arcsec
    else:
        isolation = np.full(ref_ra.size, np.inf)
    notes = []
    cap = max(MIN_CANDIDATES, MAX_CANDIDATE_MEASUREMENTS // frames)
    kept = np.flatnonzero(keep)
    if kept.size > cap:
        ranked = sorted(kept, key=lambda i: (-coverage[i], -isolation[i]))
        kept = np.sort(np.array(ranked[:cap]))
        notes.append(f"{int(keep.sum())} comparison candidates were found; the {cap} best covered and most isolated "
                     "were measured.")
    order = np.lexsort((ref_dec[kept], ref_ra[kept]))
    kept = kept[order]
    return CandidateCatalog(
        ids=[f"cand-{n + 1:03d}" for n in range(kept.size)], ra=ref_ra[kept], dec=ref_dec[kept],
        reference_mag=np.nanmedian(mags[kept], axis=1) if kept.size else np.zeros(0),
        catalog_flux=fluxes[kept], coverage=coverage[kept], isolation=np.where(np.isfinite(isolation[kept]),
                                                                                isolation[kept], 1e6), notes=notes)


def _proximity_arcsec(settings: ApertureSettings) -> float:
    """How close to the target a comparison star may not be (its light would enter the target's annulus)."""
    return max(TARGET_PROXIMITY_FACTOR * settings.aperture_radius, settings.annulus_outer_radius)


def _clustered_candidates(usable: list[UsableFrame], settings: ApertureSettings) -> CandidateCatalog:
    """Every star catalogued on any frame, clustered across frames within 2.5 arcsec (one row per frame).

    Catalogue rows near the target on their own frame are left out first, so a moving target never
    becomes a comparison star. Clusters take their first position; frames are matched in time order,
    each against the clusters within its own reach (a KD-tree match, the closest row winning), and
    the rows are kept as flat arrays: only the measured candidates get a (stars x frames) table.
    """
    limit = _proximity_arcsec(settings)
    frames = len(usable)
    cluster_ra, cluster_dec = np.zeros(0), np.zeros(0)
    cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per frame: cluster, mag, flux of each row
    for item in usable:
        catalog = item.frame.catalog
        keep = clean_rows(catalog)
        ras, decs = np.asarray(catalog["ra"], float)[keep], np.asarray(catalog["dec"], float)[keep]
        mags, fluxes = np.asarray(catalog["mag"], float)[keep], np.asarray(catalog["flux"], float)[keep]
        from_target = separation_arcsec(ras, decs, *item.target_sky)
        away = from_target > limit
        ras, decs, mags, fluxes, from_target = ras[away], decs[away], mags[away], fluxes[away], from_target[away]
        cluster_of = np.full(ras.size, -1)
        if cluster_ra.size and ras.size:
            reach = float(from_target.max()) + CROSSMATCH_ARCSEC
            nearby = np.flatnonzero(separation_arcsec(cluster_ra, cluster_dec, *item.target_sky) <= reach)
            if nearby.size:
                index, separation, _ = SkyCoord(ras * u.deg, decs * u.deg).match_to_catalog_sky(
                    SkyCoord(cluster_ra[nearby] * u.deg, cluster_dec[nearby] * u.deg))
                arcsec = separation.arcsec
                close = np.flatnonzero(arcsec <= CROSSMATCH_ARCSEC)
                order = close[np.argsort(arcsec[close], kind="stable")]
                _, first = np.unique(index[order], return_index=True)
                chosen = order[first]
                cluster_of[chosen] = nearby[index[chosen]]
        new = np.flatnonzero(cluster_of < 0)
        cluster_of[new] = cluster_ra.size + np.arange(new.size)
        cluster_ra, cluster_dec = np.concatenate([cluster_ra, ras[new]]), np.concatenate([cluster_dec, decs[new]])
        cells.append((cluster_of, mags, fluxes))
    count = cluster_ra.size
    cell_cluster = np.concatenate([cluster for cluster, _, _ in cells]) if cells else np.zeros(0, int)
    cell_frame = np.concatenate([np.full(cluster.size, column) for column, (cluster, _, _) in enumerate(cells)]) \
        if cells else np.zeros(0, int)
    coverage = np.bincount(cell_cluster, minlength=count)
    if count >= 2:
        coords = SkyCoord(cluster_ra * u.deg, cluster_dec * u.deg)
        isolation = coords.match_to_catalog_sky(coords, nthneighbor=2)[1].arcsec
    else:
        isolation = np.full(count, 1e6)
    kept = np.arange(count)
    notes = []
    cap = max(MIN_CANDIDATES, MAX_CANDIDATE_MEASUREMENTS // frames)
    if count > cap:
        kept = np.sort(np.lexsort((-isolation, -coverage))[:cap])
        notes.append(f"{count} comparison candidates were found; the {cap} best covered and most isolated "
                     "were measured.")
    kept = kept[np.lexsort((cluster_dec[kept], cluster_ra[kept]))]
    row_of = np.full(count, -1)
    row_of[kept] = np.arange(kept.size)
    in_kept = row_of[cell_cluster] >= 0 if count else np.zeros(0, bool)
    mags_by_frame = np.full((kept.size, frames), np.nan)
    flux_by_frame = np.full((kept.size, frames), np.nan)
    rows, columns = row_of[cell_cluster[in_kept]], cell_frame[in_kept]
    mags_by_frame[rows, columns] = np.concatenate([mag for _, mag, _ in cells])[in_kept] if cells else []
    flux_by_frame[rows, columns] = np.concatenate([flux for _, _, flux in cells])[in_kept] if cells else []
    return CandidateCatalog(
        ids=[f"cand-{n + 1:03d}" for n in range(kept.size)], ra=cluster_ra[kept], dec=cluster_dec[kept],
        reference_mag=np.nanmedian(mags_by_frame, axis=1) if kept.size else np.zeros(0),
        catalog_flux=flux_by_frame, coverage=coverage[kept], isolation=isolation[kept], notes=notes)


def _radii_px(item: UsableFrame, settings: ApertureSettings) -> Radii:
    scale = item.facts.pixel_scale
    return Radii(settings.aperture_radius / scale, settings.annulus_inner_radius / scale,
                 settings.annulus_outer_radius / scale)


def _measure_frame(item: UsableFrame, candidates: CandidateCatalog, settings: ApertureSettings, *,
                   picture: bool = False) -> tuple[Measurement, Measurement, Thumbnail | None]:
    """The target's and the candidates' measurements on one frame (one read of its pixels)."""
    radii = _radii_px(item, settings)
    scale = item.facts.pixel_scale
    fwhm_px = (item.facts.fwhm_arcsec / scale) if item.facts.fwhm_arcsec else radii.aperture / 1.5
    sigma = max(fwhm_px / 2.3548, 0.5)
    planes = item.frame.planes()
    ra, dec = item.target_sky
    x, y = item.wcs.world_to_pixel_values(np.append(candidates.ra, ra), np.append(candidates.dec, dec))
    options = {"bad": planes.bad, "error": planes.error, "gain": item.facts.gain, "read_noise": item.facts.read_noise}
    result = measure(planes.image, x, y, radii, centroid_sigma=sigma, **options)
    target = Measurement(*(np.atleast_1d(getattr(result, name)[-1:]) for name in Measurement.__dataclass_fields__))
    if not math.hypot(target.x[0] - x[-1], target.y[0] - y[-1]) <= MAX_TARGET_SHIFT_PX:
        target = measure(planes.image, x[-1:], y[-1:], radii, **options)
    comparisons = Measurement(*(getattr(result, name)[:-1] for name in Measurement.__dataclass_fields__))
    thumb = thumbnail(planes.image, result.x, result.y, radii) if picture else None
    return target, comparisons, thumb


def aperture_light_curve(frames: Sequence[PixelFrameLike], target: dict[str, Any], settings: ApertureSettings,
                         report: Callable[[float, str], None], *,
                         already_excluded: dict[str, str] | None = None,
                         positions: Mapping[str, tuple[float, float]] | None = None,
                         series_notes: Sequence[str] = (),
                         ) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The Aperture Photometry output entry (before ``finite``) and diagnostic JPEGs by frame basename.

    ``positions`` (ra, dec by frame basename) makes the target a moving one: frames without a
    position use ``target``'s, rows gain ``target_ra``/``target_dec`` (the measured position) and
    the calibration is shared-then-evolving over candidates clustered across the whole series.
    ``series_notes`` (the locator's) open the series-level diagnostics.
    """
    ra, dec = target["ra"], target["dec"]
    moving = bool(positions)
    excluded: dict[str, str] = dict(already_excluded or {})
    usable = _usable_frames(frames, ra, dec, settings.annulus_outer_radius, excluded, positions)
    times = series_times([item.facts for item in usable], [item.target_sky[0] for item in usable],
                         [item.target_sky[1] for item in usable]) if moving \
        else series_times([item.facts for item in usable], ra, dec)
    order = np.argsort(times.julian_date, kind="stable")
    usable = [usable[i] for i in order]
    candidates = _clustered_candidates(usable, settings) if moving else _candidates(usable, ra, dec, settings)
    count = len(usable)
    target_rows: list[Measurement] = []
    comp_net = np.full((len(candidates.ids), count), np.nan)
    comp_err = np.full_like(comp_net, np.nan)
    comp_x, comp_y = np.full_like(comp_net, np.nan), np.full_like(comp_net, np.nan)
    pictured = set(np.linspace(0, count - 1, min(count, MAX_DIAGNOSTIC_IMAGES)).round().astype(int).tolist())
    thumbs: dict[int, Thumbnail] = {}
    attempted = np.ones(comp_net.shape, dtype=bool)
    for column, item in enumerate(usable):
        report(column / count, f"Measuring frame {column + 1} of {count}.")
        target_measurement, comparisons, thumb = _measure_frame(item, candidates, settings,
                                                                picture=column in pictured)
        target_rows.append(target_measurement)
        comp_net[:, column], comp_err[:, column] = comparisons.net, comparisons.error
        if moving:
            # A star the target passes near is not a comparison on that frame.
            near = separation_arcsec(candidates.ra, candidates.dec, *item.target_sky) <= _proximity_arcsec(settings)
            comp_net[near, column] = comp_err[near, column] = np.nan
            attempted[:, column] = (comparisons.area > 0) & ~near
        comp_x[:, column], comp_y[:, column] = comparisons.x, comparisons.y
        if thumb is not None:
            thumbs[column] = thumb
    # Frames on which most candidates cannot be measured (clouds, a bad read) are left out.
    measurable = np.isfinite(comp_net) & (comp_net > 0)
    per_frame = measurable.sum(axis=0)
    if moving:  # the field changes along the track: compare each frame with the stars it holds
        good = per_frame >= FRAME_COVERAGE_FRACTION * np.maximum(attempted.sum(axis=0), 1)
    else:
        good = per_frame >= FRAME_COVERAGE_FRACTION * max(per_frame.max(initial=0), 1)
    for column in np.flatnonzero(~good):
        excluded[usable[column].frame.basename] = (f"only {per_frame[column]} of {len(candidates.ids)} comparison "
                                                   "candidates could be measured on it")
    keep = np.flatnonzero(good)
    thumbs = {int(np.searchsorted(keep, column)): thumb for column, thumb in thumbs.items() if good[column]}
    comp_x, comp_y = comp_x[:, keep], comp_y[:, keep]
    usable = [usable[i] for i in keep]
    target_rows = [target_rows[i] for i in keep]
    comp_net, comp_err = comp_net[:, keep], comp_err[:, keep]
    catalog_flux = candidates.catalog_flux[:, keep]
    target_net = np.array([m.net[0] for m in target_rows])
    target_err = np.array([m.error[0] for m in target_rows])
    calibration = (calibrate_series if moving else calibrate)(target_net, target_err,
                            Candidates(ids=candidates.ids, catalog_mag=candidates.reference_mag, net=comp_net,
                                       error=comp_err, isolation=candidates.isolation),
                            min_comparisons=settings.min_comparisons, max_comparisons=settings.max_comparisons)
    times_kept = [int(order[i]) for i in keep]
    rows = _rows(usable, target_rows, calibration, times, times_kept)
    if moving:
        for item, target_measurement, row in zip(usable, target_rows, rows, strict=True):
            row["target_ra"], row["target_dec"] = (float(v) for v in item.wcs.pixel_to_world_values(
                target_measurement.x[0], target_measurement.y[0]))
    per_file = _validation(usable, candidates, calibration, comp_net, catalog_flux)
    for item, row in zip(usable, rows, strict=True):
        if row["mag"] is None or not math.isfinite(row["mag"]):
            per_file[item.frame.basename].append("The target could not be measured on this frame (no positive "
                                                 "flux in its aperture, or a masked pixel in it).")
    for name, why in excluded.items():
        per_file.setdefault(name, []).append(f"Excluded: {why.rstrip('.')}.")
    notes = [*series_notes, *(f"{name} was excluded: {why.rstrip('.')}." for name, why in excluded.items())]
    notes += candidates.notes + calibration.notes
    images = {usable[column].frame.basename: overlay_jpeg(
        thumb, (target_rows[column].x[0], target_rows[column].y[0]),
        [(comp_x[star, column], comp_y[star, column]) for position, star in enumerate(calibration.selected)
         if calibration.used is None or calibration.used[position, column]],
        _radii_px(usable[column], settings)) for column, thumb in thumbs.items()}
    if len(images) < len(usable):
        notes.append(f"Diagnostic pictures were made for {len(images)} of the {len(usable)} frames, spread over "
                     "the series.")
    period, skipped = period_of(rows)
    if skipped:
        notes.append(skipped)
    entry = {
        "aperture_radius": settings.aperture_radius, "annulus_inner_radius": settings.annulus_inner_radius,
        "annulus_outer_radius": settings.annulus_outer_radius, "light_curve": rows,
        "selected_comparison_stars": _selected(candidates, calibration, comp_net, comp_err, usable, target_rows),
        "diagnostics": output.diagnostics(per_file, notes), "pipeline_diagnostics": notes,
        "diagnostic_images": {}, "source": dict(target), "excluded_images": list(excluded),
        "units": {**output.UNITS, **({"target_ra": "deg", "target_dec": "deg"} if moving else {})},
    }
    if calibration.check is not None:
        check = calibration.check
        entry["check_star"] = {"candidate_id": candidates.ids[check], "ra": candidates.ra[check],
                               "dec": candidates.dec[check], "catalog_mag": candidates.reference_mag[check],
                               "rms_mag": float(np.nanstd(calibration.check_mag)),
                               "median_error_mag": float(np.nanmedian(calibration.check_magerr))}
    if period is not None:
        entry.update(period)
    return entry, images


def _rows(usable: list[UsableFrame], targets: list[Measurement], calibration: Calibration, times,
          time_index: list[int]) -> list[dict[str, Any]]:
    rows = []
    for column, (item, target) in enumerate(zip(usable, targets, strict=True)):
        t = time_index[column]
        mag, magerr = calibration.mag[column], calibration.magerr[column]
        rows.append({
            "fits_path": item.frame.basename, "date_obs": times.date_obs[t],
            "observation_date": times.observation_date[t], "julian_date": times.julian_date[t],
            "bjd_tdb": times.bjd_tdb[t], "airmass": times.airmass[t], "exptime": item.facts.exptime,
            "target_centroid_x": target.x[0], "target_centroid_y": target.y[0],
            "target_net_source_counts": target.net[0], "target_source_uncertainty": target.error[0],
            "comparison_ensemble_total_counts": calibration.ensemble_counts[column],
            "comparison_ensemble_uncertainty": calibration.ensemble_error[column],
            "target_differential_flux": calibration.relative_flux[column],
            "target_differential_flux_uncertainty": calibration.relative_flux_error[column],
            "target_calibrated_apparent_magnitude": mag,
            "target_calibrated_apparent_magnitude_uncertainty": magerr,
            "mag": mag if math.isfinite(mag) else None, "magerr": magerr if math.isfinite(magerr) else None,
            "zero_point": calibration.zero_point[column],
            "n_comparisons": int(calibration.comparisons_per_frame[column]),
            "check_star_mag": None if calibration.check_mag is None else calibration.check_mag[column],
        })
    return rows


def _validation(usable: list[UsableFrame], candidates: CandidateCatalog, calibration: Calibration,
                comp_net: np.ndarray, catalog_flux: np.ndarray) -> dict[str, list[str]]:
    per_file: dict[str, list[str]] = {}
    for column, item in enumerate(usable):
        lines = [output.VALIDATION_HEADER]
        for position, star in enumerate(calibration.selected):
            if calibration.used is not None and not calibration.used[position, column]:
                continue
            lines.append(output.validation_row(
                candidates.ids[star], candidates.ra[star], candidates.dec[star], comp_net[star, column],
                catalog_flux[star, column], calibration.comparison_mag[position, column],
                candidates.reference_mag[star]))
        per_file[item.frame.basename] = lines
    return per_file


def _selected(candidates: CandidateCatalog, calibration: Calibration, comp_net: np.ndarray, comp_err: np.ndarray,
              usable: list[UsableFrame], targets: list[Measurement]) -> list[dict[str, Any]]:
    frames = max(len(usable), 1)
    stars = []
    instrumental_mags = instrumental(comp_net)
    relative = instrumental_mags - np.nanmedian(instrumental_mags, axis=0, keepdims=True)
    for position, star in enumerate(calibration.selected):
        first = usable[0]
        sx, sy = first.wcs.world_to_pixel_values(candidates.ra[star], candidates.dec[star])
        stars.append({
            "candidate_id": candidates.ids[star], "ra_deg": candidates.ra[star], "dec_deg": candidates.dec[star],
            "reference_magnitude": candidates.reference_mag[star], "reference_magnitude_source": "second_hdu",
            "variability_score": float(np.nanstd(relative[star])),
            "isolation_arcsec": candidates.isolation[star],
            "target_separation_px": float(math.hypot(float(sx) - targets[0].x[0], float(sy) - targets[0].y[0])),
            "measured_instrumental_magnitude": float(np.nanmedian(instrumental_mags[star])),
            "frame_coverage": float(np.isfinite(comp_net[star]).sum() / frames),
            "rms_mag": float(np.nanstd(calibration.comparison_mag[position])),
        })
    return stars
