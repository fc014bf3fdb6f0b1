"""The Gaia providers: fixture cones, the TAP service under a deadline, and the durable 30-day cache."""
from __future__ import annotations

import time

import numpy as np
import pytest
from astropy.table import Table
from django.core.files.storage import default_storage

from data_operations.photometry.catalog import separation_arcsec
from data_operations.photometry.gaia import (
    GAIA_COLUMNS,
    CachedGaiaProvider,
    ConeQuery,
    FixtureGaiaProvider,
    GaiaUnavailable,
    MemoryConeStore,
    TapGaiaProvider,
    prepare_cone,
)
from datalab.datalab_session.gaia import StorageConeStore, configured_gaia_provider
from tests.photometry import cluster_field
from tests.photometry.gaia_servers import FakeTap, silent_server

CONE = ConeQuery(cluster_field.RA, cluster_field.DEC, cluster_field.SEARCH_RADIUS_ARCMIN)


class Counting:
    """A provider that counts its calls and fails when told to."""

    release = "dr3"

    def __init__(self, inner=None, *, fail: bool = False):
        self.inner, self.fail, self.calls = inner or FixtureGaiaProvider(cluster_field.FIXTURE), fail, 0

    def cone(self, query):
        self.calls += 1
        if self.fail:
            raise GaiaUnavailable("no answer in time")
        return self.inner.cone(query)


def test_fixture_cone_holds_the_rows_inside_it():
    rows = FixtureGaiaProvider(cluster_field.FIXTURE).cone(CONE)
    every = Table.read(cluster_field.FIXTURE, format="ascii.ecsv")
    inside = separation_arcsec(every["ra"], every["dec"], CONE.ra, CONE.dec) <= CONE.radius_arcmin * 60
    assert 0 < len(rows) == int(inside.sum()) < len(every)
    assert set(GAIA_COLUMNS) <= set(rows.colnames)


def test_prepare_cone_applies_the_cut_the_zero_point_and_the_synthetic_errors():
    raw = FixtureGaiaProvider(cluster_field.FIXTURE).cone(CONE)
    prepared = prepare_cone(raw)
    ruwe = np.ma.filled(raw["ruwe"].astype(float), np.nan)
    assert len(prepared) == int((ruwe < 1.4).sum()) and (prepared["ruwe"] < 1.4).all()
    kept = raw[ruwe < 1.4]
    np.testing.assert_allclose(prepared["parallax"], np.ma.filled(kept["parallax"].astype(float), np.nan) + 0.017,
                               equal_nan=True)
    flux, error = (np.ma.filled(kept[name].astype(float), np.nan) for name in ("r_sdss_flux", "r_sdss_flux_error"))
    expected = np.sqrt((1.0857 * error / flux) ** 2 + 0.03 ** 2)
    np.testing.assert_allclose(prepared["r_sdss_mag_error"], expected, equal_nan=True)
    assert np.isnan(prepared["pmra"]).sum() == 10 and np.isnan(prepared["r_sdss_mag"]).sum() == 8


def test_a_cache_hit_makes_no_provider_call():
    counting = Counting()
    cached = CachedGaiaProvider(counting, StorageConeStore())
    first = cached.cone(CONE)
    again = CachedGaiaProvider(counting, StorageConeStore()).cone(CONE)  # another worker, same storage
    assert counting.calls == 1
    assert list(again["source_id"]) == list(first["source_id"])
    np.testing.assert_array_equal(np.ma.getmaskarray(again["pmra"]), np.ma.getmaskarray(first["pmra"]))
    assert default_storage.exists(StorageConeStore().name(cached.key(CONE)))
    CachedGaiaProvider(counting, StorageConeStore()).cone(ConeQuery(CONE.ra, CONE.dec, 5.0))
    assert counting.calls == 2


def test_an_old_entry_is_fetched_again():
    counting, now = Counting(), [1_000_000.0]
    cached = CachedGaiaProvider(counting, MemoryConeStore(), clock=lambda: now[0])
    cached.cone(CONE)
    now[0] += 30 * 86400 - 1
    cached.cone(CONE)
    assert counting.calls == 1
    now[0] += 2
    cached.cone(CONE)
    assert counting.calls == 2


def test_failures_are_never_cached():
    store = StorageConeStore()
    failing = Counting(fail=True)
    cached = CachedGaiaProvider(failing, store)
    for _ in range(2):
        with pytest.raises(GaiaUnavailable, match="^Gaia archive unavailable"):
            cached.cone(CONE)
    assert failing.calls == 2 and store.load(cached.key(CONE)) is None
    assert not default_storage.exists("gaia-cache") or default_storage.listdir("gaia-cache") == ([], [])


def test_the_key_names_the_cone_the_release_and_the_version():
    keys = {CONE.cache_key(release="dr3", version=1), CONE.cache_key(release="dr3", version=2),
            CONE.cache_key(release="dr4", version=1), ConeQuery(CONE.ra + 1e-4, CONE.dec, 6.0).cache_key(
                release="dr3", version=1), ConeQuery(CONE.ra, CONE.dec, 6.001).cache_key(release="dr3", version=1),
            CONE.cache_key(release="dr3", version=1, columns=("ra", "dec"))}
    assert len(keys) == 6
    assert ConeQuery(120.00001, -30.0, 6.0).cache_key(release="dr3", version=1) == CONE.cache_key(release="dr3",
                                                                                                    version=1)


@pytest.mark.parametrize("trickle", [False, True], ids=["silent", "trickling"])
def test_an_archive_that_never_answers_fails_within_the_deadline(trickle):
    with silent_server(trickle) as url:
        provider = TapGaiaProvider(url, timeout_seconds=1.5)
        started = time.monotonic()
        with pytest.raises(GaiaUnavailable) as raised:
            provider.cone(CONE)
        elapsed = time.monotonic() - started
    assert str(raised.value) == "Gaia archive unavailable (no answer in time); try again later."
    assert 1.4 <= elapsed <= 1.5 + 1.0


def test_an_archive_error_is_unavailable_and_retried_once_within_the_deadline():
    fake = FakeTap(status=503)
    with fake.serving() as url:
        with pytest.raises(GaiaUnavailable, match=r"^Gaia archive unavailable \(the archive answered with an "
                                                  r"error\); try again later\.$"):
            TapGaiaProvider(url, timeout_seconds=10).cone(CONE)
    assert fake.requests == ["POST /tap/async", "POST /tap/async"]


def test_the_tap_path_returns_the_fixture_columns():
    rows = FixtureGaiaProvider(cluster_field.FIXTURE).cone(CONE)
    rows.remove_column("role")
    fake = FakeTap(rows)
    store = MemoryConeStore()
    with fake.serving() as url:
        answer = CachedGaiaProvider(TapGaiaProvider(url, timeout_seconds=20), store).cone(CONE)
        requests_made = list(fake.requests)
        from_cache = CachedGaiaProvider(TapGaiaProvider(url, timeout_seconds=20), store).cone(CONE)
    assert fake.requests == requests_made  # the archive's answer, as stored, needs no second query
    assert list(from_cache["source_id"]) == list(answer["source_id"])
    np.testing.assert_array_equal(np.ma.getmaskarray(from_cache["r_sdss_mag"]),
                                  np.ma.getmaskarray(answer["r_sdss_mag"]))
    [query] = fake.queries
    assert "CIRCLE('ICRS', 120.000000, -30.000000, 0.100000)" in query and "g.ruwe < 1.4" in query
    assert "external.gaiaedr3_distance" in query and "gaiadr3.synthetic_photometry_gspc" in query
    assert answer.colnames == list(GAIA_COLUMNS)
    assert list(answer["source_id"]) == list(rows["source_id"])
    np.testing.assert_array_equal(np.ma.getmaskarray(answer["pmra"]), np.ma.getmaskarray(rows["pmra"]))
    assert fake.requests[-1] == "DELETE /tap/async/job1" and fake.polls == 2
    np.testing.assert_allclose(prepare_cone(answer)["parallax"], prepare_cone(rows)["parallax"], equal_nan=True)


def test_the_setting_chooses_the_provider(settings):
    settings.DATALAB_GAIA_PROVIDER = f"fixture:{cluster_field.FIXTURE}"
    assert isinstance(configured_gaia_provider(), FixtureGaiaProvider)
    settings.DATALAB_GAIA_PROVIDER, settings.GAIA_TAP_URL, settings.GAIA_TIMEOUT_SECONDS = "tap", "http://x/tap", 7.0
    provider = configured_gaia_provider()
    assert isinstance(provider, CachedGaiaProvider) and isinstance(provider.inner, TapGaiaProvider)
    assert (provider.inner.url, provider.inner.timeout_seconds) == ("http://x/tap", 7.0)
    assert provider.max_age_seconds == 30 * 86400
