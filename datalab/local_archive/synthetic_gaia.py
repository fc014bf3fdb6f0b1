"""Gaia DR3-like rows for synthetic skies: stars with astrometry, distances and synthetic SDSS photometry.

Pure numpy/astropy. A sky is built from groups of stars (cluster members, field stars, ...) that
share how their proper motions, parallaxes and colours are drawn; the table has the columns the
Gaia providers return (``data_operations.photometry.gaia.GAIA_COLUMNS``) plus each star's ``role``,
at Gaia's epoch 2016.0. Frames of the same sky take their star positions from :func:`moved` and
their magnitudes from the synthetic SDSS columns, so frames and catalogue share one truth.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from astropy.table import MaskedColumn, Table

from data_operations.photometry.gaia.provider import GAIA_EPOCH_JYEAR, SYNTHETIC_BANDS

FLUX_UNIT = "W m-2 Hz-1"
AB_ZERO_FLUX = 3.631e-23  # W m-2 Hz-1 of AB magnitude 0
ASTROMETRY_UNITS = {"pmra": "mas / yr", "pmra_error": "mas / yr", "pmdec": "mas / yr", "pmdec_error": "mas / yr",
                    "parallax": "mas", "parallax_error": "mas", "phot_g_mean_mag": "mag", "ruwe": "",
                    "r_med_geo": "pc", "r_lo_geo": "pc", "r_hi_geo": "pc"}


def scatter(rng: np.random.Generator, count: int, radius_arcmin: float, *, ra: float, dec: float,
            minimum: float = 0.0, sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) of ``count`` points uniform in an annulus around (ra, dec), or Gaussian of ``sigma`` arcmin
    truncated at ``radius_arcmin`` (a cluster's core)."""
    if sigma is None:
        r = np.sqrt(rng.uniform((minimum / radius_arcmin) ** 2, 1.0, count)) * radius_arcmin
    else:
        r = np.abs(rng.normal(0, sigma, count))
        while (too_far := r > radius_arcmin).any():
            r[too_far] = np.abs(rng.normal(0, sigma, too_far.sum()))
    angle = rng.uniform(0, 2 * math.pi, count)
    return ra + r * np.cos(angle) / 60 / math.cos(math.radians(dec)), dec + r * np.sin(angle) / 60


def photometry(rng: np.random.Generator, r_mag: np.ndarray, g_minus_r: np.ndarray) -> dict[str, np.ndarray]:
    """Gaia G and the synthetic SDSS magnitudes, fluxes and flux errors of stars of r and g - r."""
    mags = {"r_sdss": r_mag, "g_sdss": r_mag + g_minus_r}
    mags["i_sdss"] = r_mag - 0.35 * g_minus_r
    mags["z_sdss"] = mags["i_sdss"] - 0.25 * g_minus_r
    columns: dict[str, np.ndarray] = {"phot_g_mean_mag": r_mag + 0.25 * g_minus_r - 0.1}
    for band in SYNTHETIC_BANDS:
        flux = AB_ZERO_FLUX * 10 ** (-0.4 * mags[band])
        columns[f"{band}_mag"], columns[f"{band}_flux"] = mags[band], flux
        columns[f"{band}_flux_error"] = flux * rng.uniform(0.003, 0.03, r_mag.size)
    return columns


def group(rng: np.random.Generator, role: str, ra: np.ndarray, dec: np.ndarray, *,
          pm: tuple[np.ndarray, np.ndarray], parallax: np.ndarray, distance: np.ndarray, spread: float,
          r_mag: np.ndarray, g_minus_r: np.ndarray, ruwe: np.ndarray) -> dict[str, np.ndarray]:
    """The rows of one group of stars; ``spread`` is the fractional half-width of the distance interval."""
    count = ra.size
    return {"role": np.array([role] * count), "ra": ra, "dec": dec, "pmra": pm[0], "pmdec": pm[1],
            "pmra_error": rng.uniform(0.02, 0.1, count), "pmdec_error": rng.uniform(0.02, 0.1, count),
            "parallax": parallax, "parallax_error": rng.uniform(0.02, 0.05, count), "ruwe": ruwe,
            "r_med_geo": distance, "r_lo_geo": distance * (1 - spread), "r_hi_geo": distance * (1 + spread),
            **photometry(rng, r_mag, g_minus_r)}


def gaia_table(groups: list[dict[str, np.ndarray]], *, meta: dict, no_photometry: np.ndarray | None = None) -> Table:
    """The groups' rows as the archive prints them (rounded), missing values masked.

    ``no_photometry`` marks the rows without synthetic photometry (faint sources in real Gaia).
    """
    rows = {key: np.concatenate([rows_of[key] for rows_of in groups]) for key in groups[0]}
    count = rows["ra"].size
    no_photometry = np.zeros(count, dtype=bool) if no_photometry is None else no_photometry
    table = Table()
    table["source_id"] = np.arange(count, dtype=np.int64) + 5_000_000_000_000_000_000
    # Rounded as the archive prints them (and to keep the file small): 0.04 mas in position.
    for name in ("ra", "dec"):
        table[name] = MaskedColumn(np.round(rows[name], 8), unit="deg")
    for name, unit in ASTROMETRY_UNITS.items():
        values = np.round(np.asarray(rows[name], dtype=float), 4)
        table[name] = MaskedColumn(np.nan_to_num(values), mask=~np.isfinite(values), unit=unit or None)
    for band in SYNTHETIC_BANDS:
        for kind, unit in (("mag", "mag"), ("flux", FLUX_UNIT), ("flux_error", FLUX_UNIT)):
            values = rows[f"{band}_{kind}"]
            values = np.round(values, 4) if kind == "mag" else np.array([float(f"{v:.4e}") for v in values])
            table[f"{band}_{kind}"] = MaskedColumn(values, mask=no_photometry, unit=unit)
    table["role"] = rows["role"]
    table.meta = dict(meta)
    return table


def moved(gaia: Table, to_jyear: float, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions at ``to_jyear``: linear motion on the tangent plane (none without a proper motion).

    The generator's own geometry, deliberately not the operations' ``crossmatch.propagate``: the
    truth that tests check the operations against must not share their code.
    """
    rows = np.arange(len(gaia)) if rows is None else rows
    years = to_jyear - GAIA_EPOCH_JYEAR
    pmra = np.ma.filled(gaia["pmra"][rows].astype(float), 0.0)
    pmdec = np.ma.filled(gaia["pmdec"][rows].astype(float), 0.0)
    dec = np.asarray(gaia["dec"][rows], dtype=float)
    return (np.asarray(gaia["ra"][rows], dtype=float) + pmra * years / 3.6e6 / np.cos(np.radians(dec)),
            dec + pmdec * years / 3.6e6)


def write_catalogue(table: Table, path: str | os.PathLike[str]) -> Path:
    """Write an ECSV atomically (temporary name, then rename), so a provider never reads half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        table.write(temporary, format="ascii.ecsv", overwrite=True)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
