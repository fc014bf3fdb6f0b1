"""The output of the photometry operations: finite JSON the front end renders, and the ECSV download.

Rules kept here once for every photometry operation: no NaN or infinity anywhere (they become
``null``), the period keys appear together or not at all, diagnostics are keyed by frame basename
with series notes under ``"Series"``, and bulky tables go to a downloadable ECSV.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from data_operations.photometry.period import PeriodSearch, display_indices

SERIES_KEY = "Series"
VALIDATION_HEADER = ("comparison star identifier | RA | Dec | calculated flux | FITS source catalog flux | "
                     "calculated magnitude | FITS source catalog magnitude")
VALIDATION_PREFIX = "comparison-star validation row: "

UNITS = {
    "observation_date": "ISO-8601 UTC, mid-exposure", "date_obs": "ISO-8601 UTC, exposure start",
    "julian_date": "d (JD UTC, mid-exposure)", "bjd_tdb": "d (BJD_TDB, mid-exposure)", "exptime": "s",
    "mag": "mag", "magerr": "mag", "airmass": "", "period": "d", "frequency": "1/d",
    "aperture_radius": "arcsec", "annulus_inner_radius": "arcsec", "annulus_outer_radius": "arcsec",
    "target_centroid_x": "pixel (0-based, centre)", "target_centroid_y": "pixel (0-based, centre)",
    "target_net_source_counts": "image units (e- for reduced frames)", "zero_point": "mag",
    "check_star_mag": "mag", "fwhm_arcsec": "arcsec",
}
#: The astropy unit of each table column that has one (``UNITS`` says the same in words for the JSON).
COLUMN_UNITS = {
    "julian_date": u.day, "bjd_tdb": u.day, "exptime": u.s, "mag": u.mag, "magerr": u.mag, "zero_point": u.mag,
    "check_star_mag": u.mag, "target_calibrated_apparent_magnitude": u.mag,
    "target_calibrated_apparent_magnitude_uncertainty": u.mag, "fwhm_arcsec": u.arcsec,
    "target_centroid_x": u.pix, "target_centroid_y": u.pix,
}


def finite(value: Any) -> Any:
    """``value`` as plain JSON types with every non-finite float replaced by None, recursively."""
    if isinstance(value, Mapping):
        return {str(key): finite(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [finite(item) for item in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def period_block(found: PeriodSearch, time_scale: str) -> dict[str, Any]:
    """``period``, ``fap``, ``frequency``, ``power`` (display-sized) and the extras, always together."""
    shown = display_indices(found.frequency.size, power=found.power)
    best = 1.0 / found.period
    return {
        "period": found.period,
        "fap": found.fap,
        "frequency": found.frequency[shown],
        "power": found.power[shown],
        "window_power": found.window_power[shown],
        "period_candidates": [
            {"period": found.period, "power": float(np.nanmax(found.power)), "false_alarm_probability": found.fap,
             "kind": "peak", "description": "Strongest peak of the periodogram."},
            {"period": 2.0 * found.period, "power": float(np.nanmax(found.power)),
             "false_alarm_probability": found.fap, "kind": "double",
             "description": "Twice the strongest peak's period, for double-humped light curves."},
        ],
        "period_search": {
            "min_frequency": found.min_frequency, "max_frequency": found.max_frequency,
            "samples_per_peak": found.samples_per_peak, "n_frequencies": int(found.frequency.size),
            "n_frequencies_shown": int(shown.size), "best_frequency": best, "nterms": found.nterms,
            "time_scale": time_scale, "fap_method": found.fap_method,
        },
    }


def validation_row(star_id: str, ra: float, dec: float, flux: float, catalog_flux: float, mag: float,
                   catalog_mag: float) -> str:
    """One ``comparison-star validation row:`` string: 7 fields split on ``|`` ("nan" when not finite)."""
    def fixed(value: float, places: int) -> str:
        return f"{value:.{places}f}" if value is not None and math.isfinite(value) else "nan"
    return (f"{VALIDATION_PREFIX}{star_id} | {fixed(ra, 4)} | {fixed(dec, 4)} | {fixed(flux, 0)} | "
            f"{fixed(catalog_flux, 0)} | {fixed(mag, 3)} | {fixed(catalog_mag, 3)}")


def diagnostics(per_frame: Mapping[str, list[str]], series_notes: Iterable[str]) -> dict[str, list[str]]:
    """Per-file diagnostics plus the ``Series`` pseudo-file with the series-level notes."""
    result = {name: list(lines) for name, lines in per_frame.items()}
    result[SERIES_KEY] = list(series_notes)
    return result


def _column_kind(present: list[Any], gaps: bool) -> type:
    """str when any value is text; bool or int for flags or whole numbers without gaps (masked ones would not
    survive); else float."""
    if any(isinstance(value, str) for value in present):
        return str
    if present and not gaps and all(isinstance(value, (bool, np.bool_)) for value in present):
        return bool
    if present and not gaps and all(isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                                    for value in present):
        return int
    return float


def rows_table(rows: list[dict[str, Any]], *, meta: Mapping[str, Any] | None = None,
               descriptions: Mapping[str, str] = UNITS) -> Table:
    """Output rows as a table for an ECSV download (every row key a column, gaps masked, with units).

    ``descriptions`` names each column's unit in words (the light curve's by default).
    """
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    table = Table(masked=True)
    for name in columns:
        values = [row.get(name) for row in rows]
        missing = [value is None or (isinstance(value, float) and not math.isfinite(value)) for value in values]
        kind = _column_kind([value for value, gap in zip(values, missing, strict=True) if not gap], any(missing))
        filled = [("" if kind is str else 0.0) if gap else kind(value) for value, gap in zip(values, missing,
                                                                                               strict=True)]
        table[name] = np.ma.array(filled, mask=missing)
        if descriptions.get(name):
            table[name].description = descriptions[name]
        if name in COLUMN_UNITS:
            table[name].unit = COLUMN_UNITS[name]
    table.meta.update(dict(meta or {}))
    return table
