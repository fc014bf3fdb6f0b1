"""The downloads every light-curve output offers: the full table as ECSV and the AAVSO report.

One call, :func:`light_curve_downloads`, from the finished output entry: an operation whose entry
has ``light_curve`` rows, ``source`` and ``filter`` (and, when it measured one, ``check_star``)
links ``downloads.ecsv`` and, when the user gave an AAVSO observer code, ``downloads.aavso``; it
takes the AAVSO inputs of :func:`~data_operations.photometry.inputs.aavso_inputs` (blank or null
means the default). Without an observer code there is no report: WebObs attributes every line to
that code, so a report with a made-up one could only be submitted wrongly.
"""
from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

import astropy.units as u
from astropy.coordinates import SkyCoord

from data_operations.base import BaseDataOperation
from data_operations.framework.tables import TableDownload, TextDownload
from data_operations.photometry import aavso, output


def _software() -> str:
    try:
        return f"Datalab {metadata.version('datalab')}"
    except metadata.PackageNotFoundError:
        return "Datalab"


SOFTWARE = _software()
#: Entry keys copied into the ECSV table's metadata when the output has them.
TABLE_META_KEYS = ("source", "filter", "aperture_radius", "annulus_inner_radius", "annulus_outer_radius",
                   "check_star", "period", "fap")


def light_curve_downloads(operation: BaseDataOperation, entry: Mapping[str, Any]) -> list[TableDownload | TextDownload]:
    """``downloads.ecsv`` (every row, units and metadata) and, given an observer code, ``downloads.aavso``."""
    stem = operation.name().lower().replace(" ", "_")
    rows = entry["light_curve"]
    meta = {"operation": operation.name(), "times": "mid-exposure",
            **{key: entry[key] for key in TABLE_META_KEYS if entry.get(key) is not None}}
    downloads: list[TableDownload | TextDownload] = [
        TableDownload(table=output.rows_table(rows, meta=meta), filename=f"{stem}.ecsv")]
    header = report_header(operation, entry)
    if header is not None:
        downloads.append(TextDownload(text=aavso.extended_report(rows, header), filename=f"{stem}_aavso.txt",
                                      key="aavso"))
    return downloads


def report_header(operation: BaseDataOperation, entry: Mapping[str, Any]) -> aavso.ReportHeader | None:
    """The report's header from the AAVSO inputs (None without an observer code); the star's name falls back
    to the source's name, else its position, and the chart to ``na``."""
    obscode = _given(operation, "aavso_obscode")
    if obscode is None:
        return None
    source = entry.get("source") or {}
    check = entry.get("check_star") or {}
    notes: dict[str, Any] = {"OP": operation.name()}
    if entry.get("aperture_radius") is not None:
        notes["APERTURE"] = "/".join(f"{entry[key]:g}" for key in ("aperture_radius", "annulus_inner_radius",
                                                                   "annulus_outer_radius")) + " arcsec"
    if check:
        notes.update({"KRA": f"{check['ra']:.5f}", "KDEC": f"{check['dec']:+.5f}"})
    return aavso.ReportHeader(
        obscode=obscode,
        star_id=_given(operation, "aavso_star_name") or (source.get("name") or "").strip() or _position_name(source),
        filter_name=entry.get("filter"), software=SOFTWARE, chart=_given(operation, "aavso_chart"),
        check_name=check.get("candidate_id"), notes=notes)


def _given(operation: BaseDataOperation, key: str) -> str | None:
    """The input's text when the user gave some (absent, null and blank all mean the default)."""
    value = operation.input_data.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _position_name(source: Mapping[str, Any]) -> str:
    """A ``Jhhmmss.s+ddmmss.s`` name for a target known only by its position."""
    if not isinstance(source.get("ra"), (int, float)) or not isinstance(source.get("dec"), (int, float)):
        return aavso.MISSING
    where = SkyCoord(source["ra"] * u.deg, source["dec"] * u.deg)
    return "J" + where.to_string("hmsdms", sep="", precision=1).replace(" ", "")
