"""A Gaia provider over an ECSV file: the tests' and offline work's archive.

The file holds the archive's columns for a patch of sky (written by a seeded generator, never by
hand); a cone returns the rows inside it, as the archive would.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from data_operations.photometry.catalog import separation_arcsec
from data_operations.photometry.gaia.provider import GAIA_RELEASE, ConeQuery, GaiaUnavailable


class FixtureGaiaProvider:
    """Cones cut from one ECSV file of Gaia-like rows."""

    def __init__(self, path: str | Path, *, release: str = GAIA_RELEASE):
        self.path = Path(path)
        self.release = release
        self._rows: Table | None = None

    def rows(self) -> Table:
        if self._rows is None:
            try:
                self._rows = Table.read(self.path, format="ascii.ecsv")
            except (OSError, ValueError) as error:
                raise GaiaUnavailable(f"the catalogue file {self.path.name} cannot be read") from error
        return self._rows

    def cone(self, query: ConeQuery) -> Table:
        rows = self.rows()
        distance = separation_arcsec(np.asarray(rows["ra"], dtype=float), np.asarray(rows["dec"], dtype=float),
                                     query.ra, query.dec)
        return rows[distance <= query.radius_arcmin * 60.0]
