"""Sky cross-matching for the catalogue operations: one-to-one nearest neighbours and epoch propagation."""
from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time
from erfa import ErfaWarning


def one_to_one(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray,
               radius_arcsec: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i1, i2) of nearest neighbours within ``radius_arcsec``, each source used at most once.

    Every source of list 1 takes its nearest neighbour in list 2 (KD-tree); when several take the
    same neighbour, the closest keeps it. Pairs come back ordered by ``i1``.
    """
    ra1, dec1, ra2, dec2 = (np.asarray(values, dtype=float) for values in (ra1, dec1, ra2, dec2))
    empty = np.array([], dtype=int)
    if ra1.size == 0 or ra2.size == 0:
        return empty, empty
    first = SkyCoord(ra=ra1 * u.deg, dec=dec1 * u.deg)
    second = SkyCoord(ra=ra2 * u.deg, dec=dec2 * u.deg)
    nearest, separation, _ = first.match_to_catalog_sky(second)
    separation = separation.to_value(u.arcsec)
    candidates = np.flatnonzero(separation <= radius_arcsec)
    # Closest first, then keep the first claim on each neighbour.
    by_distance = candidates[np.argsort(separation[candidates], kind="stable")]
    _, first_claim = np.unique(nearest[by_distance], return_index=True)
    kept = np.sort(by_distance[first_claim])
    return kept, nearest[kept].astype(int)


def propagate(ra: np.ndarray, dec: np.ndarray, pmra: np.ndarray, pmdec: np.ndarray, *, from_jyear: float,
              to_jyear: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions moved along their proper motions (mas/yr, ``pmra`` includes cos dec) between two epochs.

    A source without a proper motion stays where it is. No distance or radial velocity is used:
    over decades the motion on the sky is what matters, so ERFA's note that it assumed a distance
    is silenced.
    """
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    pmra, pmdec = np.asarray(pmra, dtype=float), np.asarray(pmdec, dtype=float)
    moving = np.isfinite(pmra) & np.isfinite(pmdec)
    new_ra, new_dec = ra.copy(), dec.copy()
    if not moving.any():
        return new_ra, new_dec
    coords = SkyCoord(ra=ra[moving] * u.deg, dec=dec[moving] * u.deg, pm_ra_cosdec=pmra[moving] * u.mas / u.yr,
                      pm_dec=pmdec[moving] * u.mas / u.yr, obstime=Time(from_jyear, format="jyear"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)
        moved = coords.apply_space_motion(new_obstime=Time(to_jyear, format="jyear"))
    new_ra[moving], new_dec[moving] = moved.ra.deg, moved.dec.deg
    return new_ra, new_dec
