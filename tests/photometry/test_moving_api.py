"""Non-Sidereal and Moving Target through the API: listed, renderable wizards, runs that render.

The runs go through the worker's runner with kit frames stored as the user's outputs; the Moving
Target run resolves its designation with the recorded Horizons answer the settings point at.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from datalab.datalab_session import runner
from tests.api.test_operations_suite import fetch, run_operation
from tests.photometry import horizons_answer
from tests.photometry.conftest import refuse_constant
from tests.photometry.kit import Track, make_moving_series, scatter_stars
from tests.photometry.test_photometry_api import UI_ENTRY_KEYS, UI_ROW_KEYS, stored, strict

pytestmark = pytest.mark.django_db

RENDERED_TYPES = {"fits", "source", "string", "int", "float", "select"}
RADII = {"aperture_radius": 4.0, "annulus_inner_radius": 8.0, "annulus_outer_radius": 14.0}
SHARED_INPUTS = {"input_files", *RADII, "min_comparisons", "max_comparisons", "aavso_obscode", "aavso_star_name",
                 "aavso_chart"}
MOVING_ROW_KEYS = UI_ROW_KEYS | {"target_ra", "target_dec", "target_calibrated_apparent_magnitude", "date_obs"}


@pytest.fixture
def session_id(owner_api) -> int:
    return owner_api.post("/api/datasessions/", {"name": "movers", "input_data": []}, format="json").json()["id"]


def renders_everywhere(api, session_id: int, operation_id: int) -> dict:
    """The operation's entry, after checking the operation, the list and the session list render strictly."""
    detail = strict(api.get(f"/api/datasessions/{session_id}/operations/{operation_id}/"))
    listed = strict(api.get(f"/api/datasessions/{session_id}/operations/"))
    sessions = strict(api.get("/api/datasessions/"))
    [entry] = detail["output"]["output_data"]
    listed_entries = listed["results"] if isinstance(listed, dict) else listed
    assert [op["output"]["output_data"][0] for op in listed_entries if op["id"] == operation_id] == [entry]
    session_list = sessions["results"] if isinstance(sessions, dict) else sessions
    [session] = [s for s in session_list if s["id"] == session_id]
    assert any(op["id"] == operation_id and op["output"]["output_data"][0] == entry for op in session["operations"])
    return entry


def test_both_wizards_are_listed_and_render_in_the_front_end(owner_api):
    listed = strict(owner_api.get("/api/available_operations/"))
    non_sidereal = listed["Non-Sidereal Aperture Photometry"]["inputs"]
    moving = listed["Moving Target Aperture Photometry"]["inputs"]
    assert set(non_sidereal) == SHARED_INPUTS
    assert set(moving) == SHARED_INPUTS | {"target_designation", "track_search_radius"}
    for inputs in (non_sidereal, moving):
        assert all(spec["type"] in RENDERED_TYPES or "default" in spec for spec in inputs.values())
        assert [inputs[key]["default"] for key in RADII] == [7.64, 12.73, 19.10]
        assert (inputs["min_comparisons"]["default"], inputs["max_comparisons"]["default"]) == (5, 10)
    assert moving["target_designation"]["type"] == "string" and "default" not in moving["target_designation"]
    assert moving["track_search_radius"] == {**moving["track_search_radius"], "type": "float", "default": 10.0}


def test_non_sidereal_renders_with_the_evolving_solve_and_an_unmeasurable_frame(owner, owner_api, session_id,
                                                                                tmp_path):
    rng = np.random.default_rng(31)
    jd0 = 2461345.75
    track = Track(40.0, 30.0, jd0, ra_rate=240.0, dec_rate=0.0)
    stars = scatter_stars(rng, ra=40.0, dec=30.0, count=40, x_range=(-160, 400), y_range=(-125, 125),
                          keep_clear_of_y=18)
    times = [jd0 + k * 10 / 1440 for k in range(8)]
    frames = make_moving_series(tmp_path, stars, track, times, rng, zero_point0=25.0)
    # On one frame the target's aperture holds less than the sky: its flux is negative.
    frames[3] = make_moving_series(tmp_path, stars, track, [times[3]], rng, prefix="dark", zero_point0=25.0,
                                   target_flux_scale=-0.05)[0]

    detail = run_operation(owner_api, session_id, "Non-Sidereal Aperture Photometry",
                           {"input_files": stored(owner, frames), **RADII})

    entry = renders_everywhere(owner_api, session_id, detail["id"])
    assert UI_ENTRY_KEYS <= set(entry) and "basename" not in entry
    assert entry["diagnostics"]["Series"][0].startswith("Evolving calibration: fewer than 5 comparison stars")
    rows = entry["light_curve"]
    assert [row["fits_path"] for row in rows] == [frame.basename for frame in frames]
    assert all(MOVING_ROW_KEYS <= set(row) for row in rows)
    assert rows[3]["mag"] is None and rows[3]["target_calibrated_apparent_magnitude"] is None
    assert rows[3]["target_net_source_counts"] < 0
    good = [row["mag"] for index, row in enumerate(rows) if index != 3]
    assert np.std(np.array(good) - 14.0) <= 0.02
    assert entry["source"]["name"] == "2026 XY1"
    assert {key: entry[key] for key in RADII} == RADII
    assert "target_positions" not in entry and "track_search_radius" not in entry
    assert set(entry["diagnostic_images"]) == {row["fits_path"] for row in rows}
    assert set(entry["downloads"]) == {"ecsv"}  # no AAVSO report without an observer code
    text = json.dumps(entry)
    assert "Infinity" not in text and "NaN" not in text and str(tmp_path) not in text


def test_moving_target_by_designation_renders_with_its_track(owner, owner_api, session_id, tmp_path, settings):
    settings.HORIZONS_PROVIDER = f"stored:2026 XY1={horizons_answer.PATH}"
    rng = np.random.default_rng(32)
    middle = horizons_answer.TRACK.at(horizons_answer.EPOCHS[4])
    stars = scatter_stars(rng, ra=151.2, dec=12.4, count=24, x_range=(-40, 180), y_range=(-110, 110),
                          keep_clear_of_y=25)
    frames = make_moving_series(tmp_path, stars, horizons_answer.TRACK, horizons_answer.EPOCHS, rng,
                                tracking="sidereal", pointing=middle, srctype="EXTRASOLAR", zero_point0=25.0,
                                exptime=30.0)

    detail = run_operation(owner_api, session_id, "Moving Target Aperture Photometry",
                           {"input_files": stored(owner, frames), "target_designation": "2026 XY1",
                            "aavso_obscode": "XYZ", **RADII})

    entry = renders_everywhere(owner_api, session_id, detail["id"])
    rows = entry["light_curve"]
    assert len(rows) == 8 and all(MOVING_ROW_KEYS <= set(row) for row in rows)
    assert entry["target_designation"] == "2026 XY1" and entry["track_search_radius"] == 10.0
    assert entry["source"] == {"name": "2026 XY1", "ra": entry["source"]["ra"], "dec": entry["source"]["dec"]}
    assert [set(position) for position in entry["target_positions"]] == [{"mjd", "ra", "dec"}] * 8
    peak, double = entry["period_candidates"]
    assert (peak["kind"], double["kind"]) == ("peak", "double") and double["period"] == 2 * peak["period"]
    assert {"period", "fap", "frequency", "power"} <= set(entry)
    assert set(entry["downloads"]) == {"ecsv", "aavso"}
    report = fetch(entry["downloads"]["aavso"]).decode().splitlines()
    assert "#OBSCODE=XYZ" in report
    observations = [line.split(",") for line in report if not line.startswith("#")]
    assert len(observations) == 8 and {fields[0] for fields in observations} == {"2026 XY1"}
    assert entry["diagnostics"]["Series"][0].startswith("Target track: a parabola through the JPL Horizons positions "
                                                         "of 2026 XY1, over 7.00 h")


def test_an_unknown_designation_fails_with_a_sentence(owner, owner_api, session_id, tmp_path, settings):
    settings.HORIZONS_PROVIDER = f"stored:2026 XY1={horizons_answer.PATH}"
    rng = np.random.default_rng(33)
    frames = make_moving_series(tmp_path, [], horizons_answer.TRACK, horizons_answer.EPOCHS[:2], rng,
                                tracking="sidereal", render=False, shape=(64, 64))
    created = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                             {"name": "Moving Target Aperture Photometry",
                              "input_data": {"input_files": stored(owner, frames), "target_designation": "Nonesuch"}},
                             format="json")
    assert created.status_code == 201
    assert runner.execute(created.json()["id"]) == "failed"
    detail = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/{created.json()['id']}/"))
    assert (detail["status"], detail["message"]) == ("FAILED", "JPL Horizons could not resolve 'Nonesuch': no "
                                                               "recorded answer for it.")


@pytest.mark.parametrize(("name", "input_data", "message"), [
    ("Moving Target Aperture Photometry", {},
     "Moving Target Aperture Photometry needs 'target_designation' (Target Designation): the object's name or "
     "designation for JPL Horizons, or 'target_positions': two or more {mjd, ra, dec} positions."),
    ("Moving Target Aperture Photometry", {"target_positions": [{"mjd": 61345.2, "ra": 40.0, "dec": 30.0}]},
     "Moving Target Aperture Photometry: 'target_positions' must be a list of at least 2 {mjd, ra, dec} "
     "positions."),
    ("Moving Target Aperture Photometry", {"target_designation": "2026 XY1", "track_search_radius": -1},
     "Moving Target Aperture Photometry: 'track_search_radius' must be more than 0 arcsec."),
    ("Non-Sidereal Aperture Photometry", {"aperture_radius": 20.0},
     "Non-Sidereal Aperture Photometry: the radii must satisfy 0 < aperture_radius < annulus_inner_radius < "
     "annulus_outer_radius."),
])
def test_bad_inputs_are_a_400_with_a_sentence(owner_api, session_id, name, input_data, message):
    files = [{"source": "archive", "basename": "cpt1m010-fa14-20261130-0070-e91"}]
    response = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                              {"name": name, "input_data": {"input_files": files, **input_data}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert json.loads(response.content, parse_constant=refuse_constant)
