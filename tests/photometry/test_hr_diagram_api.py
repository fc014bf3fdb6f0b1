"""HR Diagram through the API: its wizard, a run with the fixture Gaia, its rendering, bad input, a silent archive."""
from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from astropy.table import Table
from django.core.files.storage import default_storage

from datalab.datalab_session import runner
from tests.api.test_operations_suite import fetch, run_operation
from tests.photometry import cluster_field
from tests.photometry.gaia_servers import silent_server
from tests.photometry.test_hr_diagram import ENTRY_KEYS, GAIA_ONLY_POINT_KEYS, IMAGE_POINT_KEYS
from tests.photometry.test_photometry_api import stored, strict

pytestmark = pytest.mark.django_db

RENDERABLE = {"fits", "source", "string", "int", "float", "select"}


@pytest.fixture
def session_id(owner_api) -> int:
    return owner_api.post("/api/datasessions/", {"name": "cluster", "input_data": []}, format="json").json()["id"]


@pytest.fixture
def cluster_inputs(owner, tmp_path):
    blue, red = cluster_field.write_frames(tmp_path, cluster_field.build())
    return {"blue_filter_files": stored(owner, [blue], "gp"), "red_filter_files": stored(owner, [red], "rp"),
            "cluster": {"name": "Synthetic", "ra": cluster_field.RA, "dec": cluster_field.DEC},
            "search_radius_arcmin": cluster_field.SEARCH_RADIUS_ARCMIN}


def test_the_wizard_is_renderable(owner_api):
    inputs = strict(owner_api.get("/api/available_operations/"))["HR Diagram"]["inputs"]
    assert set(inputs) == {"blue_filter_files", "red_filter_files", "cluster", "search_radius_arcmin"}
    assert {spec["type"] for spec in inputs.values()} <= RENDERABLE
    blue, red = inputs["blue_filter_files"], inputs["red_filter_files"]
    assert (blue["minimum"], blue["maximum"], blue["single_filter"], blue["filter_options"]) == (1, 1, True, ["gp"])
    assert (red["minimum"], red["maximum"], red["filter_options"]) == (1, 1, ["rp", "ip", "zs"])
    assert inputs["cluster"]["type"] == "source" and "name_lookup" not in inputs["cluster"]
    assert (inputs["search_radius_arcmin"]["type"], inputs["search_radius_arcmin"]["default"]) == ("float", 15.0)


def test_hr_diagram_renders_everywhere_and_links_its_table(owner_api, session_id, cluster_inputs, settings):
    settings.DATALAB_GAIA_PROVIDER = f"fixture:{cluster_field.FIXTURE}"
    detail = run_operation(owner_api, session_id, "HR Diagram", cluster_inputs)

    rendered = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/{detail['id']}/"))
    listed = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/"))
    sessions = strict(owner_api.get("/api/datasessions/"))
    [entry] = rendered["output"]["output_data"]
    assert set(entry) == ENTRY_KEYS | {"downloads"}
    assert {frozenset(p) for p in entry["cmd"]} == {frozenset(IMAGE_POINT_KEYS), frozenset(GAIA_ONLY_POINT_KEYS)}
    roles = np.asarray(cluster_field.build().image["role"])
    assert entry["n_stars"] == int(np.isin(roles, ["cluster", "field", "no_astrometry", "high_ruwe", "high_pm",
                                                   "blend"]).sum())
    assert entry["n_gaia_matched"] == int(np.isin(roles, ["cluster", "field", "no_astrometry", "high_pm"]).sum())
    listed_entries = listed["results"] if isinstance(listed, dict) else listed
    assert any(op["id"] == detail["id"] and op["output"]["output_data"][0]["cmd"] == entry["cmd"]
               for op in listed_entries)
    session_list = sessions["results"] if isinstance(sessions, dict) else sessions
    [session] = [s for s in session_list if s["id"] == session_id]
    assert session["operations"][0]["output"]["output_data"][0]["membership_guess"] == entry["membership_guess"]
    table = Table.read(io.BytesIO(fetch(entry["downloads"]["ecsv"])).read().decode(), format="ascii.ecsv")
    assert len(table) == len(entry["cmd"])
    np.testing.assert_allclose(table["color"][:entry["n_stars"]], [p["color"] for p in entry["cmd"][:entry["n_stars"]]])


@pytest.mark.parametrize(("change", "error"), [
    ({"cluster": None}, "HR Diagram needs 'cluster' (Cluster Center): the cluster's centre, with 'ra' and 'dec' in "
                        "degrees."),
    ({"cluster": {"ra": 400.0, "dec": 0.0}}, "HR Diagram: 'cluster' has 'ra' outside 0..360 or 'dec' outside -90..90."),
    ({"search_radius_arcmin": 0.0}, "HR Diagram: 'search_radius_arcmin' must be greater than zero."),
    ({"search_radius_arcmin": 61.0}, "HR Diagram: 'search_radius_arcmin' must be at most 60.0."),
    ({"search_radius_arcmin": "wide"}, "HR Diagram: 'search_radius_arcmin' must be a finite number."),
    ({"blue_filter_files": [{"source": "archive", "basename": "b", "filter": "rp"}]},
     "HR Diagram: 'blue_filter_files' item 1 (b) has filter 'rp'; allowed: gp."),
    ({"red_filter_files": []}, "HR Diagram: 'red_filter_files' needs at least 1 file(s); got 0."),
    ({"red_filter_files": [{"source": "archive", "basename": "r1"}, {"source": "archive", "basename": "r2"}]},
     "HR Diagram: 'red_filter_files' accepts at most 1 file(s); got 2."),
])
def test_bad_input_is_a_400_with_a_sentence(owner_api, session_id, change, error):
    input_data = {"blue_filter_files": [{"source": "archive", "basename": "b", "filter": "gp"}],
                  "red_filter_files": [{"source": "archive", "basename": "r", "filter": "rp"}],
                  "cluster": {"ra": 120.0, "dec": -30.0}}
    input_data.update(change)
    if input_data.get("cluster") is None:
        del input_data["cluster"]
    response = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                              {"name": "HR Diagram", "input_data": input_data}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_a_silent_archive_fails_the_operation_within_the_deadline(owner_api, session_id, cluster_inputs,
                                                                   settings):
    settings.DATALAB_GAIA_PROVIDER, settings.GAIA_TIMEOUT_SECONDS = "tap", 2.0
    created = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                             {"name": "HR Diagram", "input_data": cluster_inputs}, format="json").json()
    with silent_server() as url:
        settings.GAIA_TAP_URL = url
        started = time.monotonic()
        assert runner.execute(created["id"]) == "failed"
        elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 3.0
    detail = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/{created['id']}/"))
    assert detail["status"] == "FAILED"
    assert detail["message"] == "Gaia archive unavailable (no answer in time); try again later."
    assert not default_storage.exists("gaia-cache") or default_storage.listdir("gaia-cache") == ([], [])
    assert json.dumps(detail).count("Gaia archive unavailable") == 1
