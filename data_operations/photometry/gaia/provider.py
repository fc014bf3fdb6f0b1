"""The Gaia provider seam: the query, the columns every provider returns, and their post-processing."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from astropy.table import Table

from data_operations.errors import OperationError

GAIA_RELEASE = "dr3"
GAIA_EPOCH_JYEAR = 2016.0
#: Gaia DR3's global parallax zero point (Lindegren et al. 2021), added to every parallax.
PARALLAX_ZERO_POINT_MAS = 0.017
#: Sources with a worse renormalised unit weight error have unreliable astrometry (binaries, blends).
RUWE_LIMIT = 1.4
#: Floor of the synthetic magnitudes' error: Gaia's SDSS-system magnitudes differ from the
#: observatory's SDSS-like filters by a few hundredths.
SYNTHETIC_FLOOR_MAG = 0.03
SYNTHETIC_BANDS = ("g_sdss", "r_sdss", "i_sdss", "z_sdss")
SYNTHETIC_BAND_OF_FILTER = {"gp": "g_sdss", "rp": "r_sdss", "ip": "i_sdss", "zs": "z_sdss"}
ASTROMETRY_COLUMNS = ("source_id", "ra", "dec", "pmra", "pmra_error", "pmdec", "pmdec_error", "parallax",
                      "parallax_error", "phot_g_mean_mag", "ruwe", "r_med_geo", "r_lo_geo", "r_hi_geo")
GAIA_COLUMNS = ASTROMETRY_COLUMNS + tuple(f"{band}_{kind}" for band in SYNTHETIC_BANDS
                                          for kind in ("mag", "flux", "flux_error"))
#: The phrase users see whenever the archive cannot answer.
UNAVAILABLE = "Gaia archive unavailable"


class GaiaUnavailable(OperationError):
    """The archive did not answer in time or answered with an error; never cached."""

    def __init__(self, reason: str):
        super().__init__(f"{UNAVAILABLE} ({reason}); try again later.")


@dataclass(frozen=True)
class ConeQuery:
    """A cone on the sky: centre in degrees (ICRS) and radius in arcmin."""

    ra: float
    dec: float
    radius_arcmin: float

    def cache_key(self, *, release: str, version: int, columns: tuple[str, ...] = GAIA_COLUMNS) -> str:
        """The cache key of this cone's answer: rounded like the archive query, plus what shapes the rows."""
        digest = hashlib.sha256(",".join(columns).encode()).hexdigest()[:10]
        return f"gaia-{release}-v{version}-{self.ra:.4f}_{self.dec:+.4f}_{self.radius_arcmin:.3f}-c{digest}"


class GaiaProvider(Protocol):
    """Where Gaia rows come from (fixture file, TAP service, cache)."""

    #: The Gaia data release the rows belong to (part of the cache key).
    release: str

    def cone(self, query: ConeQuery) -> Table:
        """The archive's rows inside ``query`` with ``GAIA_COLUMNS`` (epoch 2016.0, masked where missing).

        Raises GaiaUnavailable when the archive cannot answer.
        """


def _float_column(table: Table, name: str) -> np.ndarray:
    column = table[name]
    values = np.ma.asarray(column).astype(float)
    return np.ma.filled(values, np.nan)


def prepare_cone(table: Table) -> Table:
    """Rows fit for science: RUWE < 1.4, parallax + zero point, synthetic magnitude errors, NaN for missing.

    A source without a RUWE (no astrometric solution) fails the cut, as it does in the archive query.
    """
    missing = [name for name in GAIA_COLUMNS if name not in table.colnames]
    if missing:
        raise GaiaUnavailable(f"the answer lacks the column(s) {', '.join(missing)}")
    prepared = Table()
    prepared["source_id"] = np.ma.filled(np.ma.asarray(table["source_id"]).astype(np.int64), -1)
    for name in GAIA_COLUMNS[1:]:
        prepared[name] = _float_column(table, name)
    with np.errstate(invalid="ignore"):
        keep = prepared["ruwe"] < RUWE_LIMIT
    prepared = prepared[keep]
    prepared["parallax"] += PARALLAX_ZERO_POINT_MAS
    for band in SYNTHETIC_BANDS:
        flux, error = prepared[f"{band}_flux"], prepared[f"{band}_flux_error"]
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.where(flux > 0, 1.0857 * error / flux, np.nan)
        prepared[f"{band}_mag_error"] = np.hypot(relative, SYNTHETIC_FLOOR_MAG)
    prepared.meta["epoch_jyear"] = GAIA_EPOCH_JYEAR
    return prepared
