"""The live Gaia archive still answers the query with the fixture's columns (opt-in: DATALAB_NETWORK_TESTS=1).

Guards against schema drift in the archive (a renamed distance or synthetic-photometry table), which
the offline fixture cannot see.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.table import Table

from data_operations.photometry.gaia import GAIA_COLUMNS, ConeQuery, TapGaiaProvider, prepare_cone
from tests.photometry import cluster_field

pytestmark = [pytest.mark.network,
              pytest.mark.skipif(os.environ.get("DATALAB_NETWORK_TESTS") != "1",
                                 reason="needs the internet; set DATALAB_NETWORK_TESTS=1")]


def test_the_archive_answers_with_the_fixture_columns():
    rows = TapGaiaProvider(timeout_seconds=120).cone(ConeQuery(138.0129, -64.8635, 1.0))  # NGC 2808's core
    fixture = Table.read(cluster_field.FIXTURE, format="ascii.ecsv")
    assert rows.colnames == [name for name in fixture.colnames if name in GAIA_COLUMNS]
    prepared = prepare_cone(rows)
    assert len(prepared) > 100
    assert np.isfinite(prepared["r_med_geo"]).any() and np.isfinite(prepared["r_sdss_mag"]).any()
    assert (prepared["ruwe"] < 1.4).all()
