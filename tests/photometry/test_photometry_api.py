"""T13: photometry outputs render through the API (operation, operation list, session list).

The frames are kit frames stored as the user's earlier outputs, so nothing touches the network;
the operation runs in-process through the worker's runner.
"""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from astropy.table import Table
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient

from datalab.datalab_session import runner
from datalab.datalab_session.models import DataOperation, OutputFile
from tests.api.test_operations_suite import fetch, run_operation
from tests.photometry.kit import FrameTruth, make_field, make_series, nightly_epochs

pytestmark = pytest.mark.django_db

UI_ENTRY_KEYS = {"light_curve", "source", "filter", "diagnostics"}
UI_ROW_KEYS = {"observation_date", "julian_date", "bjd_tdb", "airmass", "exptime", "mag", "magerr", "fits_path"}


def refuse_constant(constant):
    raise ValueError(f"non-finite {constant} in a response")


def strict(response) -> dict:
    assert response.status_code == 200
    return json.loads(response.content, parse_constant=refuse_constant)


def stored(user, frames: list[FrameTruth], filter_name: str = "rp") -> list[dict]:
    inputs = []
    for frame in frames:
        record = OutputFile.objects.create(user=user, basename=frame.basename)
        record.fits_name = default_storage.save(f"outputs/{frame.basename}.fits", ContentFile(frame.path.read_bytes()))
        record.save()
        inputs.append({"source": "datalab", "basename": frame.basename, "filter": filter_name})
    return inputs


@pytest.fixture
def session_id(owner_api) -> int:
    return owner_api.post("/api/datasessions/", {"name": "photometry", "input_data": []}, format="json").json()["id"]


def test_wizards_of_the_photometry_operations(owner_api):
    listed = owner_api.get("/api/available_operations/").json()
    for name, minimum in (("Light Curve", 1), ("Variable Star", 8)):
        inputs = listed[name]["inputs"]
        assert set(inputs) == {"source", "input_files"}
        assert inputs["source"]["type"] == "source" and inputs["source"]["name_lookup"] is True
        assert "required" not in inputs["source"] and "default" not in inputs["source"]
        files = inputs["input_files"]
        assert (files["type"], files["minimum"], files["maximum"]) == ("fits", minimum, 999)
        assert files["single_filter"] is True and files["filter_options"] == ["rp", "ip", "gp", "zs"]


def test_variable_star_renders_everywhere_and_links_its_table(owner, owner_api, session_id, tmp_path,
                                                              django_capture_on_commit_callbacks):
    rng = np.random.default_rng(17)
    field = make_field(rng, variation=(0.25, 0.3127, 2461345.0))
    frames = make_series(tmp_path, field, nightly_epochs(rng, nights=4, per_night=3, ra=field.ra), rng,
                         render=False, shape=(96, 96), cat_mag_noise=0.01)
    source = {"name": "V1", "ra": field.ra, "dec": field.dec}

    detail = run_operation(owner_api, session_id, "Variable Star", {"source": source,
                                                                    "input_files": stored(owner, frames)})

    operation_id = detail["id"]
    rendered = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/{operation_id}/"))
    listed = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/"))
    sessions = strict(owner_api.get("/api/datasessions/"))
    [entry] = rendered["output"]["output_data"]
    assert UI_ENTRY_KEYS <= set(entry) and {"period", "fap", "frequency", "power"} <= set(entry)
    assert "basename" not in entry
    assert all(UI_ROW_KEYS <= set(row) for row in entry["light_curve"])
    assert [row["fits_path"] for row in entry["light_curve"]] == [frame.basename for frame in frames]
    assert "/" not in json.dumps([row["fits_path"] for row in entry["light_curve"]])
    assert entry["source"] == source
    assert "Series" in entry["diagnostics"]
    listed_entries = listed["results"] if isinstance(listed, dict) else listed
    assert any(op["id"] == operation_id and op["output"]["output_data"][0]["period"] == entry["period"]
               for op in listed_entries)
    session_list = sessions["results"] if isinstance(sessions, dict) else sessions
    [session] = [s for s in session_list if s["id"] == session_id]
    assert session["operations"][0]["output"]["output_data"][0]["light_curve"] == entry["light_curve"]

    table = Table.read(io.BytesIO(fetch(entry["downloads"]["ecsv"])).read().decode(), format="ascii.ecsv")
    assert list(table["fits_path"]) == [frame.basename for frame in frames]
    np.testing.assert_allclose(table["julian_date"], [row["julian_date"] for row in entry["light_curve"]], rtol=0,
                               atol=1e-9)
    stored_output = json.dumps(detail["output"])
    assert str(tmp_path) not in stored_output and "/inputs/" not in stored_output

    # Deleting the operation releases its published table with its other outputs.
    table_record = DataOperation.objects.get(pk=operation_id).output["output_data"][0]["downloads"]["ecsv"]
    assert OutputFile.objects.filter(basename=table_record).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/api/datasessions/{session_id}/operations/{operation_id}/").status_code == 204
    assert not OutputFile.objects.filter(basename=table_record).exists()
    assert APIClient().get(entry["downloads"]["ecsv"]).status_code == 404


def test_a_series_without_catalogues_fails_with_a_sentence(owner, owner_api, session_id, tmp_path):
    rng = np.random.default_rng(3)
    field = make_field(rng)
    frames = make_series(tmp_path, field, [2461345.7, 2461345.8], rng, render=False, shape=(64, 64), catalog=False)
    created = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                             {"name": "Light Curve", "input_data": {"source": {"ra": field.ra, "dec": field.dec},
                                                                     "input_files": stored(owner, frames)}},
                             format="json")
    assert runner.execute(created.json()["id"]) == "failed"
    detail = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/{created.json()['id']}/"))
    assert detail["status"] == "FAILED"
    assert detail["message"] == ("None of the 2 input frames could be used. "
                                 f"{frames[0].basename} was skipped: Frame {frames[0].basename} has no CAT source "
                                 f"catalogue. {frames[1].basename} was skipped: Frame {frames[1].basename} has no CAT "
                                 "source catalogue.")


def test_missing_source_is_a_400(owner_api, session_id):
    response = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                              {"name": "Light Curve", "input_data": {"input_files": [
                                  {"source": "archive", "basename": "ogg2m001-ep04-20260101-0042-e91"}]}},
                              format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "Light Curve needs 'source' (Source Star): the star to measure, with 'ra' "
                                        "and 'dec' in degrees."}


def test_aperture_photometry_renders_with_an_unmeasurable_frame(owner, owner_api, session_id, tmp_path):
    rng = np.random.default_rng(23)
    field = make_field(rng, count=12)
    times = nightly_epochs(rng, nights=2, per_night=5, ra=field.ra)
    frames = make_series(tmp_path, field, times, rng, zero_point0=25.0, with_bpm=True)
    # On one frame the target's aperture holds less than the sky: its flux is negative.
    frames[4] = make_series(tmp_path, field, [times[4]], rng, prefix="dark", zero_point0=25.0,
                            target_flux_scale=-0.05)[0]
    source = {"name": "", "ra": field.ra, "dec": field.dec}
    radii = {"aperture_radius": 4.0, "annulus_inner_radius": 8.0, "annulus_outer_radius": 14.0}

    listed = strict(owner_api.get("/api/available_operations/"))["Aperture Photometry"]["inputs"]
    assert set(listed) == {"source", "input_files", *radii, "min_comparisons", "max_comparisons"}
    assert listed["source"]["type"] == "source" and listed["source"]["name_lookup"] is True
    assert [listed[key]["default"] for key in radii] == [7.64, 12.73, 19.10]
    assert (listed["min_comparisons"]["default"], listed["max_comparisons"]["default"]) == (5, 10)

    detail = run_operation(owner_api, session_id, "Aperture Photometry",
                           {"source": source, "input_files": stored(owner, frames), **radii})

    rendered = strict(owner_api.get(f"/api/datasessions/{session_id}/operations/{detail['id']}/"))
    strict(owner_api.get(f"/api/datasessions/{session_id}/operations/"))
    strict(owner_api.get("/api/datasessions/"))
    [entry] = rendered["output"]["output_data"]
    rows = entry["light_curve"]
    dark = [row for row in rows if row["fits_path"] == frames[4].basename]
    assert dark and dark[0]["mag"] is None and dark[0]["target_calibrated_apparent_magnitude"] is None
    assert dark[0]["target_net_source_counts"] < 0
    assert ("The target could not be measured on this frame (no positive flux in its aperture, or a masked pixel "
            "in it).") in entry["diagnostics"][frames[4].basename]
    assert all(UI_ROW_KEYS <= set(row) for row in rows)
    assert {"aperture_radius", "annulus_inner_radius", "annulus_outer_radius", "light_curve", "source", "filter",
            "diagnostics", "diagnostic_images", "selected_comparison_stars", "pipeline_diagnostics"} <= set(entry)
    assert entry["source"] == source
    assert "period" in entry and len(entry["frequency"]) == len(entry["power"])
    table = Table.read(io.BytesIO(fetch(entry["downloads"]["ecsv"])).read().decode(), format="ascii.ecsv")
    assert list(table["fits_path"]) == [row["fits_path"] for row in rows]
    assert table["mag"].mask[[row["fits_path"] for row in rows].index(frames[4].basename)]
    assert set(entry["diagnostic_images"]) == {row["fits_path"] for row in rows}
    picture = APIClient().get(entry["diagnostic_images"][rows[0]["fits_path"]])
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(picture.streaming_content))) as jpeg:
        assert jpeg.format == "JPEG" and max(jpeg.size) <= 800
        pixels = np.asarray(jpeg.convert("RGB")).astype(int)
    orange = (pixels[..., 0] > 200) & (abs(pixels[..., 1] - 165) < 40) & (pixels[..., 2] < 80)
    cyan = (pixels[..., 0] < 80) & (pixels[..., 1] > 200) & (pixels[..., 2] > 200)
    assert orange.sum() > 50 and cyan.sum() > 50


def test_a_result_whose_table_is_gone_is_computed_again(owner, owner_api, session_id):
    items = [{"source": "archive", "basename": f"ogg2m001-ep04-20260101-{i:04d}-e91"} for i in range(8)]
    input_data = {"source": {"ra": 10.0, "dec": 20.0}, "input_files": items}
    created = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                             {"name": "Variable Star", "input_data": input_data}, format="json").json()
    first = DataOperation.objects.get(pk=created["id"])
    OutputFile.objects.create(user=owner, operation=first, basename="datalab-variable-star-t",
                              data_name="outputs/lost-with-the-old-data-directory.ecsv")
    output = {"output_data": [{"light_curve": [], "downloads": {"ecsv": "datalab-variable-star-t"}}]}
    DataOperation.objects.filter(pk=first.pk).update(status="COMPLETED", output=output)
    other_session = owner_api.post("/api/datasessions/", {"name": "t"}, format="json").json()["id"]
    again = owner_api.post(f"/api/datasessions/{other_session}/operations/",
                           {"name": "Variable Star", "input_data": input_data}, format="json").json()
    assert again["id"] != first.pk and again["status"] == "PENDING"
