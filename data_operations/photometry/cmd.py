"""The colour-magnitude diagram of a cluster from two bands' catalogues and Gaia astrometry.

Per band, the calibrated, unflagged, unsaturated ``CAT`` rows; blue and red cross-matched one to
one within 2 arcsec, red positions canonical; the stars inside the cluster's cone; Gaia moved from
epoch 2016.0 to the frames' epoch along its proper motions and matched within 0.5 arcsec; the
unmatched Gaia sources kept as Gaia-only points (they map the cluster's kinematics). Output keys,
rounding and nulls are the front end's contract for this diagram.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table

from data_operations.errors import OperationError
from data_operations.photometry import output
from data_operations.photometry.catalog import MAGNITUDE_COLUMNS, missing_columns, separation_arcsec
from data_operations.photometry.crossmatch import one_to_one, propagate
from data_operations.photometry.frame_facts import celestial_wcs
from data_operations.photometry.gaia import GAIA_EPOCH_JYEAR, SYNTHETIC_BAND_OF_FILTER
from data_operations.photometry.membership import membership_guess

BAND_MATCH_ARCSEC = 2.0
GAIA_MATCH_ARCSEC = 0.5
MAX_IMAGE_STARS = 5000
MAX_GAIA_ONLY = 5000
#: Gaia column of each astrometric point key.
ASTROMETRY_KEYS = {"pmra": "pmra", "pmra_err": "pmra_error", "pmdec": "pmdec", "pmdec_err": "pmdec_error",
                   "parallax": "parallax", "parallax_err": "parallax_error", "distance": "r_med_geo",
                   "distance_lo": "r_lo_geo", "distance_hi": "r_hi_geo"}
UNITS = {"ra": "deg", "dec": "deg", "radius_arcmin": "arcmin", "mag": "mag", "magerr": "mag", "g_mag": "mag (Gaia G)",
         "color": "mag (blue - red)", "color_err": "mag", "pmra": "mas/yr (times cos dec)", "pmra_err": "mas/yr",
         "pmdec": "mas/yr", "pmdec_err": "mas/yr", "pm_radius": "mas/yr",
         "parallax": "mas (Gaia DR3 + 0.017 zero point)", "parallax_err": "mas",
         "distance": "pc (Bailer-Jones geometric median)", "distance_lo": "pc (16th percentile)",
         "distance_hi": "pc (84th percentile)"}


@dataclass
class BandStars:
    """One band's usable catalogue stars."""

    ra: np.ndarray
    dec: np.ndarray
    mag: np.ndarray
    magerr: np.ndarray


def band_stars(catalog: Mapping[str, np.ndarray] | None, header: fits.Header, basename: str) -> BandStars:
    """The calibrated stars of one frame's ``CAT``: finite, ``flag == 0`` and below ``SATURATE``.

    Positions come from the catalogue's ``ra``/``dec``, else from ``x``/``y`` (1-based) through the
    frame's WCS. There is no flux fallback: a colour needs calibrated magnitudes.
    """
    lacking = missing_columns(catalog, MAGNITUDE_COLUMNS)
    if catalog is None or lacking:
        raise OperationError(f"Frame {basename} has no calibrated magnitudes: its CAT table lacks "
                             f"{', '.join(lacking)} (the frame is not photometrically calibrated).")
    if "ra" in catalog and "dec" in catalog:
        ra, dec = (np.asarray(catalog[name], dtype=float) for name in ("ra", "dec"))
    else:
        wcs = celestial_wcs(header)
        if wcs is None or missing_columns(catalog, ("x", "y")):
            raise OperationError(f"Frame {basename} has no sky positions: its CAT table has no ra/dec and the "
                                 "frame has no WCS to place x/y.")
        ra, dec = wcs.all_pix2world(np.asarray(catalog["x"], dtype=float), np.asarray(catalog["y"], dtype=float), 1)
    mag, magerr = (np.asarray(catalog[name], dtype=float) for name in MAGNITUDE_COLUMNS)
    good = np.isfinite(ra) & np.isfinite(dec) & np.isfinite(mag) & np.isfinite(magerr)
    if "flag" in catalog:
        good &= np.asarray(catalog["flag"]) == 0
    saturate = header.get("SATURATE")
    if "peak" in catalog and isinstance(saturate, (int, float)) and not isinstance(saturate, bool) and saturate > 0:
        with np.errstate(invalid="ignore"):
            good &= np.asarray(catalog["peak"], dtype=float) < saturate
    if not good.any():
        raise OperationError(f"No calibrated sources found in the catalogue of {basename}.")
    return BandStars(ra[good], dec[good], mag[good], magerr[good])


@dataclass
class Cluster:
    name: str
    ra: float
    dec: float
    radius_arcmin: float


def _rounded(value: float, places: int) -> float | None:
    value = float(value)
    return round(value, places) if np.isfinite(value) else None


def _astrometry(gaia: Table, row: int | None) -> dict[str, Any]:
    values = {key: None if row is None else _rounded(gaia[column][row], 4) for key, column in ASTROMETRY_KEYS.items()}
    return {**values, "gaia_match": row is not None}


def colour_magnitude(blue: BandStars, red: BandStars, gaia: Table, cluster: Cluster, *, epoch_jyear: float,
                     blue_filter: str, red_filter: str) -> dict[str, Any]:
    """The HR Diagram entry (every float finite or None); OperationError when no star qualifies.

    ``gaia`` holds prepared rows (``prepare_cone``) of the cone around the cluster at epoch 2016.0.
    """
    blue_rows, red_rows = one_to_one(blue.ra, blue.dec, red.ra, red.dec, BAND_MATCH_ARCSEC)
    if blue_rows.size == 0:
        raise OperationError("No stars matched between the two bands; check that both images cover the same field.")
    ra, dec = red.ra[red_rows], red.dec[red_rows]
    in_cone = separation_arcsec(ra, dec, cluster.ra, cluster.dec) <= cluster.radius_arcmin * 60.0
    if not in_cone.any():
        raise OperationError(f"No matched stars within {cluster.radius_arcmin:g} arcmin of the cluster centre; "
                             "try a larger search radius.")
    chosen_blue, chosen_red = blue_rows[in_cone], red_rows[in_cone]
    brightest = np.argsort(red.mag[chosen_red], kind="stable")[:MAX_IMAGE_STARS]
    chosen_blue, chosen_red = chosen_blue[brightest], chosen_red[brightest]

    gaia_ra, gaia_dec = propagate(gaia["ra"], gaia["dec"], gaia["pmra"], gaia["pmdec"],
                                  from_jyear=GAIA_EPOCH_JYEAR, to_jyear=epoch_jyear)
    stars, matches = one_to_one(red.ra[chosen_red], red.dec[chosen_red], gaia_ra, gaia_dec, GAIA_MATCH_ARCSEC)
    gaia_of_star = dict(zip(stars.tolist(), matches.tolist(), strict=True))
    unmatched = np.setdiff1d(np.arange(len(gaia)), matches)
    g_mag = np.asarray(gaia["phot_g_mean_mag"], dtype=float)[unmatched]
    gaia_only = unmatched[np.argsort(np.where(np.isfinite(g_mag), g_mag, np.inf), kind="stable")][:MAX_GAIA_ONLY]

    pool = np.concatenate([matches, gaia_only]).astype(int)
    guess = membership_guess(*(np.asarray(gaia[name], dtype=float)[pool]
                               for name in ("pmra", "pmdec", "parallax", "r_med_geo", "r_lo_geo", "r_hi_geo")))

    points = []
    for position, (b, r) in enumerate(zip(chosen_blue, chosen_red, strict=True)):
        points.append({
            "ra": _rounded(red.ra[r], 6), "dec": _rounded(red.dec[r], 6),
            "color": _rounded(blue.mag[b] - red.mag[r], 4), "color_err": _rounded(np.hypot(blue.magerr[b],
                                                                                           red.magerr[r]), 4),
            "mag": _rounded(red.mag[r], 4), "magerr": _rounded(red.magerr[r], 4),
            **_astrometry(gaia, gaia_of_star.get(position)), "gaia_only": False,
        })
    blue_band, red_band = SYNTHETIC_BAND_OF_FILTER.get(blue_filter), SYNTHETIC_BAND_OF_FILTER.get(red_filter)
    for row in gaia_only:
        points.append(_gaia_only_point(gaia, int(row), gaia_ra[row], gaia_dec[row], blue_band, red_band))
    return {
        "cluster": {"name": cluster.name, "ra": cluster.ra, "dec": cluster.dec, "radius_arcmin": cluster.radius_arcmin},
        "blue_filter": blue_filter, "red_filter": red_filter, "mag_band": red_filter,
        "cmd": points, "membership_guess": guess,
        "n_gaia_matched": int(stars.size), "n_gaia_only": int(gaia_only.size),
        "n_stars": int(chosen_red.size), "n_stars_matched": int(in_cone.sum()),
        "units": dict(UNITS),
    }


def _gaia_only_point(gaia: Table, row: int, ra: float, dec: float, blue_band: str | None,
                     red_band: str | None) -> dict[str, Any]:
    """A Gaia source without an image counterpart, on the diagram through Gaia's synthetic photometry."""
    def synthetic(band: str | None, kind: str) -> float | None:
        return None if band is None else _rounded(gaia[f"{band}_{kind}"][row], 4)

    blue_mag, red_mag = synthetic(blue_band, "mag"), synthetic(red_band, "mag")
    blue_err, red_err = synthetic(blue_band, "mag_error"), synthetic(red_band, "mag_error")
    has_colour = blue_mag is not None and red_mag is not None
    return {
        "ra": _rounded(ra, 6), "dec": _rounded(dec, 6), "g_mag": _rounded(gaia["phot_g_mean_mag"][row], 4),
        "mag": red_mag, "magerr": red_err,
        "color": round(blue_mag - red_mag, 4) if has_colour else None,
        "color_err": _rounded(np.hypot(blue_err, red_err), 4) if has_colour and None not in (blue_err, red_err)
        else None,
        **_astrometry(gaia, row), "gaia_only": True,
    }


def cmd_table(entry: Mapping[str, Any]) -> Table:
    """The diagram's points as a table for the ECSV download: one column per point key, nulls masked."""
    return output.rows_table(list(entry["cmd"]), descriptions=UNITS,
                             meta={"operation": "HR Diagram", "cluster": dict(entry["cluster"]),
                                   "blue_filter": entry["blue_filter"], "red_filter": entry["red_filter"]})
