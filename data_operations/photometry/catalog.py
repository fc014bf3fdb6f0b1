"""Positions in a frame's ``CAT`` table: nearest source to a target, and the usable rows."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: Columns a catalogue must have for catalogue photometry (BANZAI-calibrated frames have them).
POSITION_COLUMNS = ("ra", "dec")
MAGNITUDE_COLUMNS = ("mag", "magerr")


def separation_arcsec(ra1: np.ndarray | float, dec1: np.ndarray | float, ra2: float, dec2: float) -> np.ndarray:
    """Great-circle separation in arcsec (haversine; exact at the arcsec scales matched here)."""
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    half = np.sin((dec1 - dec2) / 2.0) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra1 - ra2) / 2.0) ** 2
    return np.degrees(2.0 * np.arcsin(np.sqrt(np.clip(half, 0.0, 1.0)))) * 3600.0


def missing_columns(catalog: Mapping[str, np.ndarray] | None, columns: tuple[str, ...]) -> list[str]:
    if catalog is None:
        return list(columns)
    return [name for name in columns if name not in catalog]


def nearest_source(catalog: Mapping[str, np.ndarray], ra: float, dec: float, radius_arcsec: float) -> int | None:
    """Index of the catalogue row nearest to (ra, dec) within ``radius_arcsec``, or None."""
    ras, decs = np.asarray(catalog["ra"], dtype=float), np.asarray(catalog["dec"], dtype=float)
    if ras.size == 0:
        return None
    distance = separation_arcsec(ras, decs, ra, dec)
    distance[~np.isfinite(distance)] = np.inf
    best = int(np.argmin(distance))
    return best if distance[best] <= radius_arcsec else None


def clean_rows(catalog: Mapping[str, np.ndarray]) -> np.ndarray:
    """Boolean mask of rows with finite position, magnitude and flux, and no extraction flag."""
    good = np.ones(len(np.asarray(catalog["ra"])), dtype=bool)
    for name in ("ra", "dec", "mag", "flux"):
        if name in catalog:
            good &= np.isfinite(np.asarray(catalog[name], dtype=float))
    if "flux" in catalog:
        good &= np.asarray(catalog["flux"], dtype=float) > 0
    if "flag" in catalog:
        good &= np.asarray(catalog["flag"]) == 0
    return good
