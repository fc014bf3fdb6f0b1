"""The demo sky's open cluster: HR Diagram runs on its frames with the synthetic Gaia catalogue of the demo sky."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from django.core.management import call_command

from data_operations.hr_diagram import HRDiagram
from data_operations.photometry.gaia import FixtureGaiaProvider
from datalab.datalab_session.gaia import configured_gaia_provider
from datalab.local_archive.demo_cluster import M67
from datalab.local_archive.synthetic import (
    DEMO_GAIA_CATALOGUE,
    DEMO_SERIES,
    demo_frame_plan,
    demo_gaia_catalogue,
    lco_basename,
    make_frame,
    write_frame,
)
from datalab.local_archive.synthetic_gaia import write_catalogue
from tests.data_operations.conftest import MemoryContext

NIGHT = datetime(2026, 11, 30, tzinfo=timezone.utc)
SERIES = next(series for series in DEMO_SERIES if series.cluster is M67)
RUN_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"


@pytest.fixture(scope="module")
def cluster_frames(tmp_path_factory):
    """The first gp and the first rp frame of the cluster series, at the demo's full size, and the catalogue."""
    directory = tmp_path_factory.mktemp("demo_cluster")
    plan = [a for a in demo_frame_plan(night=NIGHT, seed=1) if a["target_name"] == SERIES.target]
    paths = {}
    for filter_name in ("gp", "rp"):
        arguments = next(a for a in plan if a["filter_name"] == filter_name)
        basename = lco_basename(site_id=arguments["site_id"], instrument_id=arguments["instrument_id"],
                                observation_date=arguments["observation_date"],
                                frame_number=arguments["frame_number"])
        paths[filter_name] = write_frame(make_frame(basename=basename, **arguments),
                                         directory / f"{basename}.fits.fz")
    catalogue = write_catalogue(demo_gaia_catalogue(seed=1), directory / DEMO_GAIA_CATALOGUE)
    return paths, catalogue


def catalogue_rows(path: Path) -> Table:
    with fits.open(path) as hdul:
        return Table(hdul["CAT"].data)


def test_hr_diagram_on_the_demo_cluster_finds_its_proper_motion(cluster_frames, tmp_path):
    paths, catalogue = cluster_frames
    items = {key: [{"source": "archive", "basename": paths[name].name.removesuffix(".fits.fz"), "filter": name}]
             for key, name in (("blue_filter_files", "gp"), ("red_filter_files", "rp"))}
    context = MemoryContext({path.name.removesuffix(".fits.fz"): path for path in paths.values()}, tmp_path)
    context.gaia_provider = FixtureGaiaProvider(catalogue)
    radius = 5.0
    output = HRDiagram({**items, "cluster": {"name": "M67", "ra": SERIES.ra, "dec": SERIES.dec},
                        "search_radius_arcmin": radius}).operate(context)
    [entry] = output.output_data
    guess = entry["membership_guess"]
    assert abs(guess["pmra"] - M67.pmra) <= 0.2 and abs(guess["pmdec"] - M67.pmdec) <= 0.2
    assert guess["parallax_min"] < M67.parallax + 0.017 < guess["parallax_max"]
    assert guess["distance_min"] < M67.distance < guess["distance_max"]

    # Independently: the unflagged stars of both frames' catalogues that are the same star, in the cone.
    blue, red = (catalogue_rows(paths[name]) for name in ("gp", "rp"))
    blue, red = blue[blue["flag"] == 0], red[red["flag"] == 0]
    red_sky, blue_sky = (SkyCoord(t["ra"] * u.deg, t["dec"] * u.deg) for t in (red, blue))
    _, separation, _ = red_sky.match_to_catalog_sky(blue_sky)
    centre = SkyCoord(SERIES.ra * u.deg, SERIES.dec * u.deg)
    in_both = (separation.arcsec < 0.01) & (red_sky.separation(centre).arcmin <= radius)
    assert entry["n_stars"] == entry["n_stars_matched"] == int(in_both.sum()) > 300
    assert entry["n_gaia_matched"] >= 0.95 * entry["n_stars"]

    # The frames' colours are the catalogue's synthetic g - r: frames and Gaia share one truth.
    gaia = Table.read(catalogue, format="ascii.ecsv")
    gaia_sky = SkyCoord(np.asarray(gaia["ra"]) * u.deg, np.asarray(gaia["dec"]) * u.deg)
    image_points = [point for point in entry["cmd"] if not point["gaia_only"] and point["gaia_match"]]
    points_sky = SkyCoord([p["ra"] for p in image_points] * u.deg, [p["dec"] for p in image_points] * u.deg)
    rows, separation, _ = points_sky.match_to_catalog_sky(gaia_sky)
    years = (NIGHT.year + (NIGHT.timetuple().tm_yday + 0.2) / 365.25) - 2016.0
    motion = np.hypot(np.asarray(gaia["pmra"]), np.asarray(gaia["pmdec"]))[rows] * years / 1000.0
    np.testing.assert_allclose(separation.arcsec, motion, atol=0.01)  # arcsec: the stars moved since 2016.0
    expected = np.asarray(gaia["g_sdss_mag"] - gaia["r_sdss_mag"])[rows]
    np.testing.assert_allclose([p["color"] for p in image_points], expected, atol=2e-4)
    members = np.asarray(gaia["role"])[rows] == "member"
    assert 150 < members.sum() < len(image_points)  # a cluster over a field, not a cluster alone
    in_clump = [math.hypot(p["pmra"] - guess["pmra"], p["pmdec"] - guess["pmdec"]) <= guess["pm_radius"]
                for p in image_points]
    assert np.mean(np.asarray(in_clump) == members) > 0.97


@pytest.mark.django_db
def test_generate_demo_frames_serves_the_cluster_publicly_in_two_filters_with_its_catalogue(settings, client):
    call_command("generate_demo_frames", night="2026-11-30", size=128, seed=2)
    response = client.get("/archive/frames/", {"target_name": SERIES.target, "limit": 50})
    assert response.status_code == 200
    frames = response.json()["results"]
    assert sorted(frame["primary_optical_element"] for frame in frames) == ["gp"] * 3 + ["rp"] * 3
    assert {frame["proposal_id"] for frame in frames} == {"LCOEPO2026B-001"}
    public = client.get("/archive/frames/", {"target_name": SERIES.target, "proposal_id": "public", "limit": 50})
    assert public.json()["count"] == 6

    written = Table.read(settings.LOCAL_ARCHIVE_DIR / DEMO_GAIA_CATALOGUE, format="ascii.ecsv")
    expected = demo_gaia_catalogue(seed=2, size=128)
    assert written.colnames == expected.colnames and len(written) == len(expected)
    np.testing.assert_allclose(written["pmra"], expected["pmra"], rtol=0, atol=0)
    assert "not real Gaia data" in written.meta["description"]

    settings.DATALAB_GAIA_PROVIDER = f"fixture:{settings.LOCAL_ARCHIVE_DIR / DEMO_GAIA_CATALOGUE}"
    assert len(configured_gaia_provider().rows()) == len(expected)
    # The quick start names the same file.
    assert f"/{DEMO_GAIA_CATALOGUE}}}" in RUN_SCRIPT.read_text()
