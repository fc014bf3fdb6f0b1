"""The AAVSO Extended File Format (v1.2): a light curve as an observation report AAVSO's WebObs accepts.

Six parameter lines (``#TYPE``, ``#OBSCODE``, ``#SOFTWARE``, ``#DELIM``, ``#DATE``, ``#OBSTYPE``)
then one line of 15 comma-separated fields per observation, ``na`` where a value is not known.
Dates are JD (UTC) at mid-exposure, as the format asks. Magnitudes are standardized against an
ensemble (the catalogue's zero point, or the operation's comparison ensemble), which the format
writes as ``CNAME=ENSEMBLE`` with ``CMAG=na``; the check star, when there is one, fills ``KNAME``
and ``KMAG`` with its magnitude on the same scale (AAVSO's own VPhot reports ensemble work so).
Frames without a target magnitude are left out: the format has no way to report them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DELIMITER = ","
MISSING = "na"
#: The field names, in the order the format requires.
FIELDS = ("STARID", "DATE", "MAGNITUDE", "MAGERR", "FILTER", "TRANS", "MTYPE", "CNAME", "CMAG", "KNAME", "KMAG",
          "AMASS", "GROUP", "CHART", "NOTES")
#: Observatory filter names and their AAVSO band codes (Sloan primes, Pan-STARRS z_s, Bessell UBVRI).
BAND_CODES = {"up": "SU", "gp": "SG", "rp": "SR", "ip": "SI", "zs": "SZ",
              "U": "U", "B": "B", "V": "V", "R": "R", "I": "I"}
#: Limits of the format, in characters.
STARID_LIMIT, NAME_LIMIT, CHART_LIMIT = 30, 20, 20
ENSEMBLE = "ENSEMBLE"


@dataclass(frozen=True)
class ReportHeader:
    """What the report says once: who observed what, through which filter, with which software."""

    obscode: str
    star_id: str
    filter_name: str | None
    software: str
    chart: str | None = None
    #: The check star's label (``KNAME``); its magnitude per row comes from ``check_star_mag``.
    check_name: str | None = None
    #: ``KEY=value`` pairs repeated in every line's NOTES (after the per-frame ones).
    notes: Mapping[str, Any] = field(default_factory=dict)


def band_code(filter_name: str | None) -> str:
    """The AAVSO band code of an observatory filter name, or ``na`` when the filter has none."""
    if not filter_name:
        return MISSING
    return BAND_CODES.get(filter_name) or BAND_CODES.get(filter_name.strip().lower(), MISSING)


def _text(value: str | None, limit: int) -> str:
    """Free text made safe for one field: ASCII, no delimiter, ``#`` or line break, cut to ``limit``; else na."""
    if value is None:
        return MISSING
    cleaned = "".join(ch if 32 <= ord(ch) < 127 and ch not in (DELIMITER, "#") else " " for ch in value)
    cleaned = " ".join(cleaned.split())[:limit].strip()
    return cleaned or MISSING


def _number(value: Any, places: int) -> str:
    """``value`` with ``places`` decimals (always with a dot), or ``na`` when it is not a finite number."""
    if value is None or isinstance(value, bool):
        return MISSING
    try:
        number = float(value)
    except (TypeError, ValueError):
        return MISSING
    return f"{number:.{places}f}" if math.isfinite(number) else MISSING


def _notes(pairs: Mapping[str, Any]) -> str:
    """``KEY=value`` pairs joined by ``|`` (the convention of AAVSO's own tools), ``na`` when empty."""
    parts = [f"{key}={_text(str(value), 200)}" for key, value in pairs.items() if value is not None]
    return "|".join(parts) if parts else MISSING


def header_lines(header: ReportHeader) -> list[str]:
    """The six parameter lines the format requires."""
    return ["#TYPE=EXTENDED", f"#OBSCODE={_text(header.obscode, NAME_LIMIT)}",
            f"#SOFTWARE={_text(header.software, 255)}", f"#DELIM={DELIMITER}", "#DATE=JD", "#OBSTYPE=CCD"]


def observation_line(row: Mapping[str, Any], header: ReportHeader) -> str | None:
    """One row of a light curve as a data line, or None when the row has no magnitude."""
    magnitude, date = _number(row.get("mag"), 3), _number(row.get("julian_date"), 6)
    if MISSING in (magnitude, date):
        return None
    check_name = _text(header.check_name, NAME_LIMIT)
    magerr = _number(row.get("magerr"), 3)
    bjd = _number(row.get("bjd_tdb"), 6)
    per_frame = {"BJD_TDB": None if bjd == MISSING else bjd, "FRAME": row.get("fits_path")}
    values = {
        "STARID": _text(header.star_id, STARID_LIMIT), "DATE": date, "MAGNITUDE": magnitude,
        "MAGERR": MISSING if magerr.startswith("-") else magerr, "FILTER": band_code(header.filter_name),
        "TRANS": "NO", "MTYPE": "STD", "CNAME": ENSEMBLE, "CMAG": MISSING,
        "KNAME": check_name, "KMAG": MISSING if check_name == MISSING else _number(row.get("check_star_mag"), 3),
        "AMASS": _number(row.get("airmass"), 4), "GROUP": MISSING, "CHART": _text(header.chart, CHART_LIMIT),
        "NOTES": _notes({**per_frame, **header.notes}),
    }
    return DELIMITER.join(values[name] for name in FIELDS)


def extended_report(rows: Sequence[Mapping[str, Any]], header: ReportHeader) -> str:
    """The whole report: the six parameter lines, then one line per row that has a magnitude."""
    lines = header_lines(header)
    lines.extend(line for line in (observation_line(row, header) for row in rows) if line is not None)
    return "\n".join(lines) + "\n"
