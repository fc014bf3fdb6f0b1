"""HR Diagram on the synthetic cluster (tests/photometry/cluster_field.py) with the fixture Gaia provider."""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.table import Table

from data_operations.errors import OperationError
from data_operations.hr_diagram import HRDiagram
from data_operations.photometry.cmd import BandStars, Cluster, band_stars, colour_magnitude
from data_operations.photometry.crossmatch import one_to_one
from data_operations.photometry.gaia import FixtureGaiaProvider, prepare_cone
from data_operations.photometry.gaia.provider import ConeQuery
from data_operations.photometry.membership import membership_guess
from datalab.local_archive.synthetic_gaia import moved
from tests.photometry import cluster_field as truth_of
from tests.photometry.conftest import strict_json
from tests.photometry.kit import make_catalog_frame

ENTRY_KEYS = {"cluster", "blue_filter", "red_filter", "mag_band", "cmd", "membership_guess", "n_gaia_matched",
              "n_gaia_only", "n_stars", "n_stars_matched", "units"}
CLUSTER_KEYS = {"name", "ra", "dec", "radius_arcmin"}
ASTROMETRY = {"pmra", "pmra_err", "pmdec", "pmdec_err", "parallax", "parallax_err", "distance", "distance_lo",
              "distance_hi", "gaia_match", "gaia_only"}
IMAGE_POINT_KEYS = {"ra", "dec", "color", "color_err", "mag", "magerr"} | ASTROMETRY
GAIA_ONLY_POINT_KEYS = {"ra", "dec", "g_mag", "mag", "magerr", "color", "color_err"} | ASTROMETRY
MEMBERSHIP_KEYS = {"pmra", "pmdec", "pm_radius", "parallax_min", "parallax_max", "distance_min", "distance_max"}


@pytest.fixture(scope="module")
def truth():
    return truth_of.build()


@pytest.fixture
def frames(tmp_path, truth):
    return truth_of.write_frames(tmp_path, truth)


def inputs(blue, red, **extra) -> dict:
    return {"blue_filter_files": [{"source": "archive", "basename": blue.basename, "filter": "gp"}],
            "red_filter_files": [{"source": "archive", "basename": red.basename, "filter": "rp"}],
            "cluster": {"name": "Synthetic", "ra": truth_of.RA, "dec": truth_of.DEC},
            "search_radius_arcmin": truth_of.SEARCH_RADIUS_ARCMIN, **extra}


def run(frames, context_for, provider=None, **extra):
    blue, red = frames
    context = context_for([blue, red])
    context.gaia_provider = provider or FixtureGaiaProvider(truth_of.FIXTURE)
    return HRDiagram(inputs(blue, red, **extra)).operate(context), context


def test_the_fixture_is_what_its_generator_builds(truth):
    stored = Table.read(truth_of.FIXTURE, format="ascii.ecsv")
    assert stored.colnames == truth.gaia.colnames
    for name in stored.colnames:
        if stored[name].dtype.kind in "fi":
            np.testing.assert_array_equal(np.ma.getmaskarray(stored[name]), np.ma.getmaskarray(truth.gaia[name]))
            np.testing.assert_allclose(np.ma.filled(stored[name], 0), np.ma.filled(truth.gaia[name], 0), rtol=1e-12)
        else:
            assert list(stored[name]) == list(truth.gaia[name])
    assert len(stored) == 150 + 300 + 10 + 5 + 1 + 20 + 2


def test_hr_diagram_meets_the_fixture_expectations(truth, frames, context_for):
    result, context = run(frames, context_for)

    [entry] = result.output_data
    strict_json(entry)
    roles = np.asarray(truth.image["role"])
    count = {role: int((roles == role).sum()) for role in set(roles.tolist())}
    # Both bands, unflagged, unsaturated, inside the cone: everything imaged but the strays, the lost and the outside.
    assert entry["n_stars_matched"] == entry["n_stars"] == (count["cluster"] + count["field"] + 10 + 5 + 1 + 2)
    assert entry["n_gaia_matched"] == count["cluster"] + count["field"] + 10 + 1
    gaia_roles = np.asarray(truth.gaia["role"])
    in_cone = truth_of.separation_arcmin(truth.gaia["ra"], truth.gaia["dec"]) <= truth_of.SEARCH_RADIUS_ARCMIN
    field_off_frames = int((in_cone & (gaia_roles == "field")).sum()) - count["field"]
    assert field_off_frames > 0
    assert entry["n_gaia_only"] == 20 + field_off_frames + 2
    assert len(entry["cmd"]) == entry["n_stars"] + entry["n_gaia_only"]

    guess = entry["membership_guess"]
    assert abs(guess["pmra"] - truth_of.CLUSTER_PM[0]) <= 0.2 and abs(guess["pmdec"] - truth_of.CLUSTER_PM[1]) <= 0.2
    assert 0.5 <= guess["pm_radius"] <= 5
    assert guess["parallax_min"] < truth_of.CLUSTER_PARALLAX < guess["parallax_max"]
    assert not guess["parallax_min"] <= 0.3 <= guess["parallax_max"]
    assert guess["distance_min"] < truth_of.CLUSTER_DISTANCE < guess["distance_max"]

    image_points = [point for point in entry["cmd"] if not point["gaia_only"]]
    gaia_only = [point for point in entry["cmd"] if point["gaia_only"]]
    assert entry["cmd"][:len(image_points)] == image_points
    assert [point["mag"] for point in image_points] == sorted(point["mag"] for point in image_points)
    g_mags = [point["g_mag"] for point in gaia_only]
    assert g_mags == sorted(g_mags) and all(point["gaia_match"] for point in gaia_only)
    assert sum(point["mag"] is None and point["color"] is None for point in gaia_only) == 8
    assert entry["cluster"] == {"name": "Synthetic", "ra": truth_of.RA, "dec": truth_of.DEC, "radius_arcmin": 6.0}
    assert (entry["blue_filter"], entry["red_filter"], entry["mag_band"]) == ("gp", "rp", "rp")
    assert [fraction for fraction, _ in context.progress] == sorted(fraction for fraction, _ in context.progress)

    # Every image point against the truth row it was built from (nearest frame position).
    image = truth.image
    gaia = truth.gaia
    for point in image_points:
        row = int(np.argmin(np.hypot(image["ra_red"] - point["ra"], image["dec_red"] - point["dec"])))
        assert abs(point["mag"] - image["mag_red"][row]) <= 1e-4
        assert abs(point["color"] - (image["mag_blue"][row] - image["mag_red"][row])) <= 2e-4
        assert abs(point["color_err"] - math.hypot(image["magerr_blue"][row], image["magerr_red"][row])) <= 1e-4
        source = int(image["gaia_row"][row])
        role = image["role"][row]
        if role in ("high_ruwe", "blend"):
            assert point["gaia_match"] is False and point["pmra"] is None and point["parallax"] is None
            continue
        assert point["gaia_match"] is True, role
        if role == "no_astrometry":
            assert point["pmra"] is None and point["parallax"] is None and point["distance"] is None
            continue
        assert point["pmra"] == round(float(gaia["pmra"][source]), 4)
        assert abs(point["parallax"] - (gaia["parallax"][source] + 0.017)) <= 1e-9
        assert point["distance_hi"] == round(float(gaia["r_hi_geo"][source]), 4)
    # RUWE > 1.4 sources are nowhere: neither matched nor Gaia-only.
    bad = np.flatnonzero(gaia_roles == "high_ruwe")
    emitted_pm = {(point["pmra"], point["pmdec"]) for point in entry["cmd"]}
    assert not emitted_pm & {(round(float(gaia["pmra"][i]), 4), round(float(gaia["pmdec"][i]), 4)) for i in bad}
    # The fast mover is matched, with its own proper motion.
    [fast] = [point for point in image_points if point["pmra"] == truth_of.HIGH_PM[0]]
    assert fast["pmdec"] == truth_of.HIGH_PM[1] and fast["gaia_only"] is False
    # Gaia-only positions are moved to the frames' epoch: the generator's linear motion, within the output's
    # rounding to 1e-6 deg (2.6 mas), where staying at 2016.0 would be off by 10 mas or more.
    moved_ra, moved_dec = (np.asarray(values) for values in moved(gaia, truth_of.EPOCH_JYEAR))
    off = 0
    for point in gaia_only:
        distance = np.hypot((moved_ra - point["ra"]) * math.cos(math.radians(point["dec"])), moved_dec - point["dec"])
        assert distance.min() * 3.6e6 <= 2.6
        source = int(distance.argmin())
        off += math.hypot(gaia["pmra"][source], gaia["pmdec"][source]) * 10.3 > 10.0
    assert off > len(gaia_only) / 2

    [download] = result.data_files
    table = Table.read(download.path, format="ascii.ecsv")
    assert len(table) == len(entry["cmd"]) and (download.key, download.entry) == ("ecsv", 0)
    np.testing.assert_allclose(table["mag"][:len(image_points)], [point["mag"] for point in image_points])
    assert list(table["gaia_only"]) == [point["gaia_only"] for point in entry["cmd"]]
    assert int(table["g_mag"].mask[:len(image_points)].sum()) == len(image_points)


def test_output_keys_are_the_front_ends_contract(frames, context_for):
    result, _ = run(frames, context_for)
    [entry] = result.output_data
    assert set(entry) == ENTRY_KEYS
    assert set(entry["cluster"]) == CLUSTER_KEYS
    assert set(entry["membership_guess"]) == MEMBERSHIP_KEYS
    assert {frozenset(point) for point in entry["cmd"] if not point["gaia_only"]} == {frozenset(IMAGE_POINT_KEYS)}
    assert {frozenset(point) for point in entry["cmd"] if point["gaia_only"]} == {frozenset(GAIA_ONLY_POINT_KEYS)}
    assert "basename" not in entry
    assert entry["units"]["parallax"] == "mas (Gaia DR3 + 0.017 zero point)"


def test_the_fast_mover_matches_only_after_propagation(truth, frames):
    blue_frame, red_frame = frames
    from data_operations.framework.tables import open_catalog_frame
    opened = [open_catalog_frame(frame.path, frame.basename) for frame in (blue_frame, red_frame)]
    blue, red = (band_stars(frame.catalog, frame.header, frame.basename) for frame in opened)
    gaia = prepare_cone(FixtureGaiaProvider(truth_of.FIXTURE).cone(ConeQuery(truth_of.RA, truth_of.DEC, 6.0)))
    cluster = Cluster("Synthetic", truth_of.RA, truth_of.DEC, 6.0)

    def fast_point(epoch):
        entry = colour_magnitude(blue, red, gaia, cluster, epoch_jyear=epoch, blue_filter="gp", red_filter="rp")
        return entry, [point for point in entry["cmd"] if point["pmra"] == truth_of.HIGH_PM[0]]

    propagated, [moved] = fast_point(truth_of.EPOCH_JYEAR)
    frozen, [still] = fast_point(2016.0)
    assert moved["gaia_only"] is False and still["gaia_only"] is True
    assert propagated["n_gaia_matched"] - frozen["n_gaia_matched"] == 1
    assert frozen["n_gaia_only"] - propagated["n_gaia_only"] == 1


def test_catalogue_rows_are_cleaned_and_located(tmp_path):
    catalog = {"ra": np.array([10.0, 10.001, 10.002, 10.003]), "dec": np.array([5.0, 5.0, 5.0, np.nan]),
               "mag": np.array([14.0, 15.0, 16.0, 17.0]), "magerr": np.array([0.01, 0.01, 0.01, 0.01]),
               "peak": np.array([100.0, 70000.0, 100.0, 100.0]), "flag": np.array([0, 0, 1, 0])}
    frame = make_catalog_frame(tmp_path, "one", ra=10.0, dec=5.0, mid_jd=2461000.5, catalog=catalog)
    from data_operations.framework.tables import open_catalog_frame
    opened = open_catalog_frame(frame.path, frame.basename)
    stars = band_stars(opened.catalog, opened.header, "one")
    assert stars.mag.tolist() == [14.0]
    # Without ra/dec the positions come from x/y (1-based) through the WCS.
    located = band_stars({k: v for k, v in opened.catalog.items() if k not in ("ra", "dec")}, opened.header, "one")
    assert abs(located.ra[0] - 10.0) * 3600 <= 0.01 and abs(located.dec[0] - 5.0) * 3600 <= 0.01
    with pytest.raises(OperationError, match=r"^Frame one has no calibrated magnitudes: its CAT table lacks magerr"):
        band_stars({k: v for k, v in opened.catalog.items() if k != "magerr"}, opened.header, "one")


def test_one_to_one_keeps_the_closest_claim():
    rng = np.random.default_rng(5)
    ra2, dec2 = rng.uniform(0, 0.05, 200), rng.uniform(0, 0.05, 200)
    ra1 = np.concatenate([ra2[:150] + rng.normal(0, 0.4, 150) / 3600, ra2[:20] + 0.9 / 3600])
    dec1 = np.concatenate([dec2[:150], dec2[:20]])
    first, second = one_to_one(ra1, dec1, ra2, dec2, 2.0)
    # Brute force: each list-1 source's nearest; each list-2 source kept by its closest claimant.
    cos = np.cos(np.radians(dec2.mean()))
    separation = np.hypot((ra1[:, None] - ra2[None, :]) * cos, dec1[:, None] - dec2[None, :]) * 3600
    nearest = separation.argmin(axis=1)
    best = {}
    for i, j in enumerate(nearest):
        if separation[i, j] <= 2.0 and (j not in best or separation[i, j] < separation[best[j], j]):
            best[j] = i
    expected = sorted((i, j) for j, i in best.items())
    assert list(zip(first.tolist(), second.tolist(), strict=True)) == expected
    assert len(set(second.tolist())) == len(second)


def test_membership_needs_a_clump():
    rng = np.random.default_rng(11)
    assert membership_guess(*(rng.normal(0, 8, 9) for _ in range(2)), *(np.ones(9) for _ in range(4))) is None
    field = rng.uniform(-60, 60, (2, 400))
    assert membership_guess(field[0], field[1], *(np.ones(400) for _ in range(4))) is None
    clump = rng.normal(0, 0.1, (2, 30)) + np.array([[12.0], [-7.0]])
    pmra, pmdec = np.concatenate([field[0], clump[0]]), np.concatenate([field[1], clump[1]])
    no_parallax = np.full(430, np.nan)
    guess = membership_guess(pmra, pmdec, no_parallax, no_parallax, no_parallax, no_parallax)
    assert abs(guess["pmra"] - 12.0) <= 0.1 and abs(guess["pmdec"] + 7.0) <= 0.1
    assert guess["parallax_min"] is guess["parallax_max"] is guess["distance_min"] is None


def test_no_band_match_is_a_sentence():
    blue = BandStars(np.array([10.0]), np.array([5.0]), np.array([14.0]), np.array([0.01]))
    red = BandStars(np.array([10.01]), np.array([5.0]), np.array([14.0]), np.array([0.01]))
    with pytest.raises(OperationError, match="^No stars matched between the two bands; check that both images cover "
                                             "the same field.$"):
        colour_magnitude(blue, red, Table(), Cluster("", 10.0, 5.0, 5.0), epoch_jyear=2026.0, blue_filter="gp",
                         red_filter="rp")


class Counting(FixtureGaiaProvider):
    def __init__(self):
        super().__init__(truth_of.FIXTURE)
        self.calls = 0

    def cone(self, query):
        self.calls += 1
        return super().cone(query)


def test_a_cluster_off_both_frames_fails_before_gaia_is_asked(frames, context_for):
    provider = Counting()
    with pytest.raises(OperationError, match="^The cluster centre is outside both images; check that the cluster "
                                             "coordinates match your images.$"):
        run(frames, context_for, provider, cluster={"ra": truth_of.RA + 1.0, "dec": truth_of.DEC})
    assert provider.calls == 0
    run(frames, context_for, provider)
    assert provider.calls == 1


def test_an_uncalibrated_frame_fails_before_gaia_is_asked(tmp_path, frames, context_for):
    blue, _ = frames
    catalog = {"ra": np.array([truth_of.RA]), "dec": np.array([truth_of.DEC]), "mag": np.array([np.nan]),
               "magerr": np.array([np.nan])}
    red = make_catalog_frame(tmp_path, "uncalibrated", ra=truth_of.RA, dec=truth_of.DEC, mid_jd=blue.mid_jd,
                             catalog=catalog)
    provider = Counting()
    with pytest.raises(OperationError, match="^No calibrated sources found in the catalogue of uncalibrated.$"):
        run((blue, red), context_for, provider)
    assert provider.calls == 0


def test_a_cone_without_gaia_sources_still_gives_the_diagram(truth, frames):
    from data_operations.framework.tables import open_catalog_frame
    opened = [open_catalog_frame(frame.path, frame.basename) for frame in frames]
    blue, red = (band_stars(frame.catalog, frame.header, frame.basename) for frame in opened)
    provider = FixtureGaiaProvider(truth_of.FIXTURE)
    empty = prepare_cone(provider.cone(ConeQuery(truth_of.RA + 5.0, truth_of.DEC, 1.0)))
    assert len(empty) == 0
    entry = colour_magnitude(blue, red, empty, Cluster("", truth_of.RA, truth_of.DEC, 6.0),
                             epoch_jyear=truth_of.EPOCH_JYEAR, blue_filter="gp", red_filter="rp")
    strict_json(entry)
    assert (entry["n_gaia_matched"], entry["n_gaia_only"], entry["membership_guess"]) == (0, 0, None)
    imaged = ~np.isin(np.asarray(truth.image["role"]), ["blue_only", "red_only", "lost", "outside"])
    assert entry["n_stars"] == len(entry["cmd"]) == int(imaged.sum())
    assert not any(point["gaia_match"] for point in entry["cmd"])
