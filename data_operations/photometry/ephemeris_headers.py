"""Where a non-sidereally tracked frame says its target is: ``CAT-RA``/``CAT-DEC`` of each exposure.

The observatory writes the target's catalogue position into every frame: for a moving object
tracked at its own rate these are the ephemeris position at that exposure (RA sexagesimal hours,
Dec sexagesimal degrees), and ``SRCTYPE`` names the kind of target. ``EXTRASOLAR`` means a
sidereally tracked star, whose ``CAT-RA``/``CAT-DEC`` never move.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import astropy.units as u
from astropy.coordinates import Angle
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.photometry.frame_facts import start_mjd

SIDEREAL_SOURCE_TYPE = "EXTRASOLAR"
#: Positions closer than this (arcsec) over the whole series count as "the same position".
SAME_POSITION_ARCSEC = 0.01


class HeaderFrameLike(Protocol):
    basename: str
    header: fits.Header


@dataclass
class HeaderPositions:
    """The target's (ra, dec) in degrees by frame basename, the earliest frame's, and notes for the user."""

    positions: dict[str, tuple[float, float]]
    first: str
    notes: list[str] = field(default_factory=list)


def _angle(value: object, unit: u.Unit) -> float | None:
    """Degrees from a sexagesimal string in ``unit`` (or a number of degrees); None when unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip() or value.strip().upper() in ("N/A", "NAN", "UNKNOWN"):
        return None
    try:
        return float(Angle(value.strip(), unit=unit).degree)
    except (ValueError, u.UnitsError):
        return None


def header_positions(frames: Sequence[HeaderFrameLike], operation: str) -> HeaderPositions:
    """Per-frame target positions; OperationError for sidereal frames or frames without a position."""
    sidereal = [frame.basename for frame in frames
                if str(frame.header.get("SRCTYPE", "")).strip().upper() == SIDEREAL_SOURCE_TYPE]
    if sidereal:
        named = ", ".join(sidereal[:3]) + (f" and {len(sidereal) - 3} more" if len(sidereal) > 3 else "")
        raise OperationError(
            f"{operation} measures frames tracked on a moving target, but {len(sidereal)} of the {len(frames)} "
            f"frames ({named}) were taken of a sidereal target (SRCTYPE = EXTRASOLAR). Use Aperture Photometry "
            "for a star, or Moving Target Aperture Photometry for a moving object crossing sidereally tracked "
            "frames.")
    positions: dict[str, tuple[float, float]] = {}
    for frame in frames:
        ra = _angle(frame.header.get("CAT-RA"), u.hourangle)
        dec = _angle(frame.header.get("CAT-DEC"), u.deg)
        if ra is None or dec is None or not -90 <= dec <= 90:
            raise OperationError(
                f"{operation} reads the target's position on each frame from its CAT-RA and CAT-DEC header "
                f"keywords, and {frame.basename} has no readable CAT-RA/CAT-DEC. Use Moving Target Aperture "
                "Photometry with the target's designation instead.")
        positions[frame.basename] = (ra % 360.0, dec)
    times = {}
    for frame in frames:
        try:
            times[frame.basename] = start_mjd(frame.header, frame.basename)
        except OperationError:
            times[frame.basename] = float("inf")
    first = min(positions, key=lambda name: times[name])
    notes = []
    ras = [ra for ra, _ in positions.values()]
    decs = [dec for _, dec in positions.values()]
    spread = max(max(ras) - min(ras), max(decs) - min(decs)) * 3600.0
    if len(positions) > 1 and spread < SAME_POSITION_ARCSEC:
        notes.append("Every frame gives the same target position (CAT-RA, CAT-DEC): the telescope was not tracking "
                     "a moving target, so the target was measured at one fixed position. For a moving object on "
                     "sidereally tracked frames, use Moving Target Aperture Photometry.")
    return HeaderPositions(positions=positions, first=first, notes=notes)
