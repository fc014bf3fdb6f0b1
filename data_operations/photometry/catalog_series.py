"""The catalogue engine: a target's light curve from the reduced frames' ``CAT`` magnitudes.

No pixels are read. Each frame contributes the catalogue row nearest the target within 4 arcsec;
times come from the frame header (mid-exposure), never from the client. A frame that cannot
contribute is excluded with a note saying why.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.photometry import output
from data_operations.photometry.catalog import MAGNITUDE_COLUMNS, POSITION_COLUMNS, missing_columns, nearest_source
from data_operations.photometry.frame_facts import FrameFacts, celestial_wcs, frame_facts
from data_operations.photometry.period import PeriodSearchSkipped, search
from data_operations.photometry.times import series_times

MATCH_RADIUS_ARCSEC = 4.0


class CatalogFrameLike(Protocol):
    basename: str
    header: fits.Header
    shape: tuple[int, int]
    catalog: dict[str, np.ndarray] | None


@dataclass
class CatalogSeries:
    """Rows in time order, excluded frames with their reasons, and series notes."""

    rows: list[dict[str, Any]]
    excluded: dict[str, str]
    notes: list[str] = field(default_factory=list)


def covers(frame: CatalogFrameLike, ra: float, dec: float) -> bool:
    """Whether (ra, dec) falls on the frame (True when the frame has no usable WCS: it cannot be ruled out)."""
    wcs = celestial_wcs(frame.header)
    if wcs is None:
        return True
    x, y = wcs.world_to_pixel_values(ra, dec)
    ny, nx = frame.shape
    return bool(np.isfinite(x) and np.isfinite(y) and -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5)


def _match(frame: CatalogFrameLike, ra: float, dec: float) -> tuple[float, float] | str:
    """(mag, magerr) of the target on the frame, or the reason there is none."""
    lacking = missing_columns(frame.catalog, POSITION_COLUMNS + MAGNITUDE_COLUMNS)
    if frame.catalog is None:
        return "the frame has no CAT source catalogue"
    if lacking:
        return f"its CAT table has no {', '.join(lacking)} column (the frame is not photometrically calibrated)"
    row = nearest_source(frame.catalog, ra, dec, MATCH_RADIUS_ARCSEC)
    if row is None:
        return f"no catalogued source within {MATCH_RADIUS_ARCSEC:g} arcsec of the target"
    mag, magerr = float(frame.catalog["mag"][row]), float(frame.catalog["magerr"][row])
    if not (math.isfinite(mag) and math.isfinite(magerr)):
        return "the matched catalogue source has no finite magnitude"
    return mag, magerr


def catalog_light_curve(frames: Sequence[CatalogFrameLike], target: dict[str, Any],
                        report: Callable[[float, str], None], *,
                        already_excluded: dict[str, str] | None = None) -> CatalogSeries:
    """The target's light curve over ``frames``; OperationError when no frame has it.

    ``already_excluded`` names frames that could not be opened, with the reason, for the notes.
    """
    ra, dec = target["ra"], target["dec"]
    kept: list[tuple[CatalogFrameLike, FrameFacts, float, float]] = []
    excluded: dict[str, str] = dict(already_excluded or {})
    for position, frame in enumerate(frames):
        report(position / max(len(frames), 1), f"Matching the target in frame {position + 1} of {len(frames)}.")
        try:
            facts = frame_facts(frame.header, frame.basename)
        except OperationError as error:
            excluded[frame.basename] = str(error)
            continue
        found = _match(frame, ra, dec)
        if isinstance(found, str):
            excluded[frame.basename] = found
            continue
        kept.append((frame, facts, *found))
    if not kept:
        if not any(covers(frame, ra, dec) for frame in frames):
            raise OperationError(f"The target at RA {ra:.5f}, Dec {dec:.5f} lies outside every input frame; "
                                 "choose frames that cover it.")
        reasons = "; ".join(f"{name}: {why}" for name, why in list(excluded.items())[:5])
        raise OperationError(f"No extractable photometry data found for this source ({reasons}).")
    times = series_times([facts for _, facts, _, _ in kept], ra, dec)
    order = np.argsort(times.julian_date, kind="stable")
    rows = []
    for index in order:
        frame, facts, mag, magerr = kept[index]
        row = {"observation_date": times.observation_date[index], "date_obs": times.date_obs[index],
               "julian_date": times.julian_date[index], "bjd_tdb": times.bjd_tdb[index],
               "airmass": times.airmass[index], "exptime": facts.exptime, "mag": mag, "magerr": magerr,
               "fits_path": frame.basename}
        if facts.fwhm_arcsec is not None:
            row["fwhm_arcsec"] = facts.fwhm_arcsec
        rows.append(row)
    notes = [f"{name} was excluded: {why.rstrip('.')}." for name, why in excluded.items()]
    return CatalogSeries(rows=rows, excluded=excluded, notes=notes)


def period_of(rows: list[dict[str, Any]], nterms: int = 1) -> tuple[dict[str, Any] | None, str | None]:
    """The period block for ``rows`` (on BJD_TDB when every row has it), or None and the reason."""
    bjd = np.array([row.get("bjd_tdb", np.nan) for row in rows], dtype=float)
    time_scale = "bjd_tdb" if bjd.size and np.all(np.isfinite(bjd)) else "julian_date"
    times = bjd if time_scale == "bjd_tdb" else np.array([row["julian_date"] for row in rows], dtype=float)
    mag = np.array([row["mag"] if row.get("mag") is not None else np.nan for row in rows], dtype=float)
    magerr = np.array([row["magerr"] if row.get("magerr") is not None else np.nan for row in rows], dtype=float)
    try:
        found = search(times, mag, magerr, nterms=nterms)
    except PeriodSearchSkipped as skipped:
        return None, str(skipped)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as error:
        return None, f"No period was found: the period search failed on this series ({error})."
    return output.period_block(found, time_scale), None


def catalog_entry(series: CatalogSeries, target: dict[str, Any], filter_name: str | None, *,
                  period: dict[str, Any] | None = None, series_notes: Sequence[str] = ()) -> dict[str, Any]:
    """The output entry of Light Curve and Variable Star (finite JSON)."""
    entry: dict[str, Any] = {
        "target_coords": dict(target), "source": dict(target), "filter": filter_name or "None",
        "light_curve": series.rows, "flux_fallback": False, "excluded_images": list(series.excluded),
        "units": {key: output.UNITS[key] for key in ("observation_date", "julian_date", "bjd_tdb", "mag", "magerr",
                                                      "exptime", "period", "frequency")},
        "diagnostics": output.diagnostics({name: [f"Excluded: {why.rstrip('.')}."]
                                           for name, why in series.excluded.items()},
                                          [*series.notes, *series_notes]),
        "pipeline_diagnostics": [*series.notes, *series_notes],
    }
    if period is not None:
        entry.update(period)
    return output.finite(entry)
