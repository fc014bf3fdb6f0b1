"""Wizard inputs shared by the photometry operations, and the target they name."""
from __future__ import annotations

from typing import Any

from data_operations.base import fits_input
from data_operations.errors import InputValidationError

PHOTOMETRY_FILTERS = ["rp", "ip", "gp", "zs"]
#: One line of printable ASCII without the AAVSO report's delimiter (',') or comment mark ('#').
REPORT_TEXT = r"[\x20-\x22\x24-\x2b\x2d-\x7e]*"
REPORT_TEXT_DESCRIPTION = "letters, digits, spaces and punctuation other than ',' and '#', on one line"


def light_curve_files(minimum: int = 1) -> dict[str, Any]:
    return fits_input("Input Files", "The frames of one target, in one filter", minimum=minimum, maximum=999,
                      single_filter=True, filter_options=list(PHOTOMETRY_FILTERS))


def source_input(description: str = "The star to measure: a name to look up, or RA and Dec in degrees") -> dict:
    return {"name": "Source Star", "description": description, "type": "source", "name_lookup": True}


def aavso_inputs() -> dict[str, dict[str, Any]]:
    """The optional inputs of the AAVSO report every light-curve output offers (blank means the default).

    Their ``max_length`` and ``pattern`` are checked when the operation is created, so a report can
    never be broken by a delimiter or a line break typed into one of them.
    """
    return {
        "aavso_obscode": {"name": "AAVSO Observer Code", "type": "string", "default": "", "max_length": 10,
                          "pattern": "[A-Za-z0-9]*", "pattern_description": "letters and digits",
                          "description": "Your AAVSO observer code; given, the result offers an AAVSO report "
                                         "of the light curve"},
        "aavso_star_name": {"name": "AAVSO Star Name", "type": "string", "default": "", "max_length": 30,
                            "pattern": REPORT_TEXT, "pattern_description": REPORT_TEXT_DESCRIPTION,
                            "description": "The star's AAVSO name or AUID for the AAVSO report; blank uses the "
                                           "source star's name"},
        "aavso_chart": {"name": "AAVSO Chart ID", "type": "string", "default": "", "max_length": 20,
                        "pattern": REPORT_TEXT, "pattern_description": REPORT_TEXT_DESCRIPTION,
                        "description": "The AAVSO chart (sequence) ID for the AAVSO report; blank writes na"},
    }


def target_of(operation: str, input_data: dict[str, Any]) -> dict[str, Any]:
    """The fixed target ``{name, ra, dec}`` from ``source`` (or an API client's ``target_positions``)."""
    target = input_data.get("source")
    if target is None:
        positions = input_data.get("target_positions")
        if isinstance(positions, dict):
            positions = [positions]
        if isinstance(positions, list) and len(positions) == 1:
            target = positions[0]
        elif positions is not None:
            raise InputValidationError(f"{operation}: 'target_positions' must hold exactly one {{ra, dec}} "
                                       "position for a fixed target.")
    if target is None:
        raise InputValidationError(f"{operation} needs 'source' (Source Star): the star to measure, with 'ra' "
                                   "and 'dec' in degrees.")
    ra, dec = target.get("ra") if isinstance(target, dict) else None, target.get("dec") if isinstance(
        target, dict) else None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (ra, dec)) \
            or not (0 <= ra < 360 and -90 <= dec <= 90):
        raise InputValidationError(f"{operation}: the target needs numeric 'ra' (0..360) and 'dec' (-90..90) "
                                   "in degrees.")
    name = target.get("name")
    return {"name": name if isinstance(name, str) else "", "ra": float(ra), "dec": float(dec)}
