"""Wizard inputs shared by the photometry operations, and the target they name."""
from __future__ import annotations

from typing import Any

from data_operations.base import fits_input
from data_operations.errors import InputValidationError

PHOTOMETRY_FILTERS = ["rp", "ip", "gp", "zs"]


def light_curve_files(minimum: int = 1) -> dict[str, Any]:
    return fits_input("Input Files", "The frames of one target, in one filter", minimum=minimum, maximum=999,
                      single_filter=True, filter_options=list(PHOTOMETRY_FILTERS))


def source_input(description: str = "The star to measure: a name to look up, or RA and Dec in degrees") -> dict:
    return {"name": "Source Star", "description": description, "type": "source", "name_lookup": True}


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
