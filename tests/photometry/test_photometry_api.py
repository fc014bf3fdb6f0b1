"""T13: photometry outputs render through the API (operation, operation list, session list).

The frames are kit frames stored as the user's earlier outputs, so nothing touches the network;
the operation runs in-process through the worker's runner.
"""
from __future__ import annotations

import io
import json

import astropy.units as u
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
from tests.photometry.conftest import refuse_constant
from tests.photometry.kit import FrameTruth, make_field, make_series, nightly_epochs
from tests.photometry.report_reader import parse_report

pytestmark = pytest.mark.django_db

UI_ENTRY_KEYS = {"light_curve", "source", "filter", "diagnostics"}
UI_ROW_KEYS = {"observation_date", "julian_date", "bjd_tdb", "airmass", "exptime", "mag", "magerr", "fits_path"}
AAVSO_INPUTS = {"aavso_obscode", "aavso_star_name", "aavso_chart"}


def strict(response) -> dict:
    assert response.status_code == 200
    return json.loads(response.content, parse_constant=refuse_constant)


def table_at(url: str) -> Table:
    """The ECSV download a browser gets from its signed URL."""
    return Table.read(fetch(url).decode(), format="ascii.ecsv")


def report_at(url: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The AAVSO report a browser gets from its signed URL, parsed."""
    response = APIClient().get(url)
    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    return parse_report(b"".join(response.streaming_content).decode("ascii"))


def assert_table_holds_the_rows(table: Table, rows: list[dict]) -> None:
    """Every row key is a column holding exactly the row's values (null rows masked), with the time units."""
    assert len(table) == len(rows)
    assert set(table.colnames) == {key for row in rows for key in row}
    for name in table.colnames:
        for position, row in enumerate(rows):
            value = table[name][position]
            if row.get(name) is None:
                assert np.ma.is_masked(value), (name, position)
            else:
                assert not np.ma.is_masked(value) and value == row[name], (name, position, value, row[name])
    assert (table["julian_date"].unit, table["bjd_tdb"].unit, table["exptime"].unit) == (u.day, u.day, u.s)
    assert (table["mag"].unit, table["magerr"].unit) == (u.mag, u.mag)
    assert table["julian_date"].description == "d (JD UTC, mid-exposure)"


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
        assert set(inputs) == {"source", "input_files", *AAVSO_INPUTS}
        assert inputs["source"]["type"] == "source" and inputs["source"]["name_lookup"] is True
        assert "required" not in inputs["source"] and "default" not in inputs["source"]
        files = inputs["input_files"]
        assert (files["type"], files["minimum"], files["maximum"]) == ("fits", minimum, 999)
        assert files["single_filter"] is True and files["filter_options"] == ["rp", "ip", "gp", "zs"]
    for name in ("Light Curve", "Variable Star", "Aperture Photometry"):
        for key in AAVSO_INPUTS:
            spec = listed[name]["inputs"][key]
            # The front end renders a text field for it and, with a default present, never blocks on it.
            assert (spec["type"], spec["default"], "required" in spec, "options" in spec) == ("string", "", False,
                                                                                              False)


def test_variable_star_renders_everywhere_and_links_its_table(owner, owner_api, session_id, tmp_path,
                                                              django_capture_on_commit_callbacks):
    rng = np.random.default_rng(17)
    field = make_field(rng, variation=(0.25, 0.3127, 2461345.0))
    frames = make_series(tmp_path, field, nightly_epochs(rng, nights=4, per_night=3, ra=field.ra), rng,
                         render=False, shape=(96, 96), cat_mag_noise=0.01)
    source = {"name": "V1", "ra": field.ra, "dec": field.dec}
    # The front end's text fields untouched but the observer code: every other default.
    aavso_choices = {**dict.fromkeys(AAVSO_INPUTS, ""), "aavso_obscode": "TST01"}

    detail = run_operation(owner_api, session_id, "Variable Star", {"source": source,
                                                                    "input_files": stored(owner, frames),
                                                                    **aavso_choices})

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

    table = table_at(entry["downloads"]["ecsv"])
    assert list(table["fits_path"]) == [frame.basename for frame in frames]
    assert_table_holds_the_rows(table, entry["light_curve"])
    assert (table.meta["operation"], table.meta["source"], table.meta["filter"]) == ("Variable Star", source, "rp")
    assert (table.meta["period"], table.meta["fap"]) == (entry["period"], entry["fap"])

    parameters, observations = report_at(entry["downloads"]["aavso"])
    assert (parameters["OBSCODE"], parameters["DATE"]) == ("TST01", "JD")
    assert len(observations) == len(frames)
    for line, row, frame in zip(observations, entry["light_curve"], frames, strict=True):
        assert (line["STARID"], line["FILTER"], line["CHART"], line["KNAME"]) == ("V1", "SR", "na", "na")
        assert abs(float(line["DATE"]) - row["julian_date"]) <= 5e-7 and abs(float(line["DATE"]) - frame.mid_jd) <= 1e-6
        assert abs(float(line["MAGNITUDE"]) - row["mag"]) <= 5e-4
    stored_output = json.dumps(detail["output"])
    assert str(tmp_path) not in stored_output and "/inputs/" not in stored_output

    # Deleting the operation releases its published table with its other outputs.
    published = DataOperation.objects.get(pk=operation_id).output["output_data"][0]["downloads"]
    assert set(published) == {"ecsv", "aavso"}
    assert OutputFile.objects.filter(basename__in=published.values()).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/api/datasessions/{session_id}/operations/{operation_id}/").status_code == 204
    assert not OutputFile.objects.filter(basename__in=published.values()).exists()
    assert APIClient().get(entry["downloads"]["ecsv"]).status_code == 404
    assert APIClient().get(entry["downloads"]["aavso"]).status_code == 404


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
    assert set(listed) == {"source", "input_files", *radii, "min_comparisons", "max_comparisons", *AAVSO_INPUTS}
    assert listed["source"]["type"] == "source" and listed["source"]["name_lookup"] is True
    assert [listed[key]["default"] for key in radii] == [7.64, 12.73, 19.10]
    assert (listed["min_comparisons"]["default"], listed["max_comparisons"]["default"]) == (5, 10)

    aavso_choices = {"aavso_obscode": "TST01", "aavso_star_name": "V1 Tri", "aavso_chart": "X36483DQK"}
    detail = run_operation(owner_api, session_id, "Aperture Photometry",
                           {"source": source, "input_files": stored(owner, frames), **radii, **aavso_choices})

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
    table = table_at(entry["downloads"]["ecsv"])
    assert list(table["fits_path"]) == [row["fits_path"] for row in rows]
    assert table["mag"].mask[[row["fits_path"] for row in rows].index(frames[4].basename)]
    assert_table_holds_the_rows(table, rows)
    assert (table["check_star_mag"].unit, table["target_centroid_x"].unit) == (u.mag, u.pix)
    assert table.meta["check_star"] == entry["check_star"]
    assert [table.meta[key] for key in radii] == list(radii.values())

    parameters, observations = report_at(entry["downloads"]["aavso"])
    assert parameters["OBSCODE"] == "TST01"
    measured = [row for row in rows if row["mag"] is not None]
    assert len(observations) == len(measured) == len(rows) - 1  # the dark frame has no magnitude to report
    for line, row in zip(observations, measured, strict=True):
        assert (line["STARID"], line["CHART"], line["CNAME"], line["CMAG"]) == ("V1 Tri", "X36483DQK", "ENSEMBLE",
                                                                                 "na")
        assert line["KNAME"] == entry["check_star"]["candidate_id"]
        assert abs(float(line["KMAG"]) - row["check_star_mag"]) <= 5e-4
        assert abs(float(line["DATE"]) - row["julian_date"]) <= 5e-7
        assert f"FRAME={row['fits_path']}" in line["NOTES"].split("|")
    assert set(entry["diagnostic_images"]) == {row["fits_path"] for row in rows}
    picture = APIClient().get(entry["diagnostic_images"][rows[0]["fits_path"]])
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(picture.streaming_content))) as jpeg:
        assert jpeg.format == "JPEG" and max(jpeg.size) <= 800
        pixels = np.asarray(jpeg.convert("RGB")).astype(int)
    orange = (pixels[..., 0] > 200) & (abs(pixels[..., 1] - 165) < 40) & (pixels[..., 2] < 80)
    cyan = (pixels[..., 0] < 80) & (pixels[..., 1] > 200) & (pixels[..., 2] > 200)
    assert orange.sum() > 50 and cyan.sum() > 50


@pytest.mark.parametrize(("choices", "message"), [
    ({"aavso_obscode": "TST,01"}, "'aavso_obscode' may hold only letters and digits."),
    ({"aavso_obscode": "ABCDEFGHIJK"}, "'aavso_obscode' must be at most 10 characters long; got 11."),
    ({"aavso_obscode": 12345}, "'aavso_obscode' must be a string."),
    ({"aavso_star_name": "SS Cyg\nTST01,2461345.5"},
     "'aavso_star_name' may hold only letters, digits, spaces and punctuation other than ',' and '#', on one line."),
    ({"aavso_star_name": "V" * 31}, "'aavso_star_name' must be at most 30 characters long; got 31."),
    ({"aavso_chart": "X36483DQK,X1"},
     "'aavso_chart' may hold only letters, digits, spaces and punctuation other than ',' and '#', on one line."),
])
@pytest.mark.parametrize("operation", ["Light Curve", "Variable Star", "Aperture Photometry"])
def test_bad_aavso_choices_are_a_400(owner_api, session_id, operation, choices, message):
    files = [{"source": "archive", "basename": f"ogg2m001-ep04-20260101-{i:04d}-e91"} for i in range(8)]
    response = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                              {"name": operation, "input_data": {"source": {"ra": 10.0, "dec": 20.0},
                                                                 "input_files": files, **choices}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": f"{operation}: {message}"}


def test_absent_null_and_blank_aavso_choices_are_one_request(owner_api, session_id):
    """Null and blank both mean the default: the same request again, answered with the same operation."""
    files = [{"source": "archive", "basename": f"ogg2m001-ep04-20260101-{i:04d}-e91"} for i in range(8)]
    base = {"source": {"ra": 10.0, "dec": 20.0}, "input_files": files}
    url = f"/api/datasessions/{session_id}/operations/"
    first = owner_api.post(url, {"name": "Light Curve", "input_data": base}, format="json")
    assert first.status_code == 201
    for choices in (dict.fromkeys(AAVSO_INPUTS), dict.fromkeys(AAVSO_INPUTS, "")):
        again = owner_api.post(url, {"name": "Light Curve", "input_data": {**base, **choices}}, format="json")
        assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    given = owner_api.post(url, {"name": "Light Curve", "input_data": {**base, "aavso_obscode": "TST01"}},
                           format="json")
    assert given.status_code == 201 and given.json()["id"] != first.json()["id"]


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
