"""T5-T8 and T14: Aperture Photometry on a 60-frame kit series with known truth.

One scene serves every check: 12 nights x 5 frames, zero points varying by up to 0.5 mag
(extinction and transparency), 20 comparison stars of which one varies by 0.3 mag, one has a
catalogue magnitude 0.8 mag off and one has a hot (BPM-masked) pixel in its aperture; the target
is a 0.3127 d sinusoid of 0.25 mag.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from data_operations.aperture_photometry import AperturePhotometry
from data_operations.errors import InputValidationError, OperationError
from data_operations.photometry.output import VALIDATION_PREFIX
from tests.data_operations.conftest import MemoryContext
from tests.photometry.conftest import items
from tests.photometry.kit import Star, frame_wcs, make_field, make_series, nightly_epochs
from tests.photometry.report_reader import parse_report

PERIOD = 0.3127
RADII = {"aperture_radius": 4.0, "annulus_inner_radius": 8.0, "annulus_outer_radius": 14.0}
AAVSO = {"aavso_obscode": "TST01", "aavso_chart": "X36483DQK"}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    directory = tmp_path_factory.mktemp("aperture")
    rng = np.random.default_rng(2026)
    field = make_field(rng, variation=(0.25, PERIOD, 2461345.0))
    variable, wrong_catalog, masked = field.stars[3], field.stars[7], field.stars[11]
    variable.variation = (0.3, 1.7, 2461345.2)
    wrong_catalog.catalog_offset = 0.8
    times = nightly_epochs(rng, nights=12, per_night=5, ra=field.ra)
    hot = tuple(int(round(float(v))) for v in frame_wcs(field, (256, 256), 1.0).world_to_pixel_values(masked.ra,
                                                                                                      masked.dec))
    frames = make_series(directory, field, times, rng, transparency=0.35, with_bpm=True, with_err=True,
                         hot_pixels=[(hot[0] + 1, hot[1])], zero_point0=25.0)
    work = directory / "work"
    work.mkdir()
    context = MemoryContext({frame.basename: frame.path for frame in frames}, work)
    source = {"name": "V1", "ra": field.ra, "dec": field.dec}
    result = AperturePhotometry({"source": source, "input_files": items(frames), **RADII,
                                 **AAVSO}).operate(context)
    return {"field": field, "frames": frames, "result": result, "variable": variable,
            "wrong_catalog": wrong_catalog, "masked": masked}


def star_id(entry, star: Star) -> str | None:
    """The candidate id the operation gave ``star`` (from its validation rows), if it was a candidate."""
    for row in entry["selected_comparison_stars"]:
        if abs(row["ra_deg"] - star.ra) < 1e-4 and abs(row["dec_deg"] - star.dec) < 1e-4:
            return row["candidate_id"]
    return None


def test_zero_point_swings_are_calibrated_out(scene):
    [entry] = scene["result"].output_data
    json.dumps(entry, allow_nan=False)
    rows = entry["light_curve"]
    assert len(rows) == 60
    truth = np.array([frame.target_mag for frame in scene["frames"]])
    zero_points = np.array([frame.zero_point for frame in scene["frames"]])
    assert zero_points.max() - zero_points.min() > 0.3
    residual = np.array([row["mag"] for row in rows]) - truth
    formal = np.median([row["magerr"] for row in rows])
    assert abs(residual.mean()) <= 0.01
    assert residual.std() <= 1.5 * formal
    check = entry["check_star"]
    assert check["rms_mag"] <= 1.5 * check["median_error_mag"]
    assert all(row["n_comparisons"] == 10 for row in rows)
    assert all(math.isfinite(row["check_star_mag"]) for row in rows)


def test_rejected_comparisons_are_named(scene):
    [entry] = scene["result"].output_data
    notes = entry["diagnostics"]["Series"]
    assert star_id(entry, scene["variable"]) is None
    assert star_id(entry, scene["wrong_catalog"]) is None
    assert star_id(entry, scene["masked"]) is None
    assert sum("rejected: it varies by" in note for note in notes) == 1
    assert "1 comparison candidate(s) could not be measured on every frame (near an edge, a masked pixel in the " \
           "aperture, or no flux) and were not used." in notes
    assert sum("catalogue magnitude disagrees with the measured one by +0.8" in note for note in notes) == 1
    assert notes == entry["pipeline_diagnostics"]


def test_period_is_recovered_with_its_double(scene):
    [entry] = scene["result"].output_data
    baseline = scene["frames"][-1].mid_jd - scene["frames"][0].mid_jd
    assert abs(entry["period"] - PERIOD) <= 0.25 * PERIOD ** 2 / baseline
    assert entry["fap"] < 1e-6
    peak, double = entry["period_candidates"]
    assert double["period"] == 2 * peak["period"] and double["kind"] == "double"
    assert len(entry["frequency"]) == len(entry["power"])


def test_output_keeps_the_front_end_contract(scene):
    [entry] = scene["result"].output_data
    assert entry["source"] == {"name": "V1", "ra": scene["field"].ra, "dec": scene["field"].dec}
    assert {key: entry[key] for key in RADII} == RADII
    assert entry["filter"] == "rp"
    assert "Series" in entry["diagnostics"]
    frames = scene["frames"]
    for frame, row in zip(frames, entry["light_curve"], strict=True):
        assert row["fits_path"] == frame.basename
        assert row["mag"] == row["target_calibrated_apparent_magnitude"]
        lines = entry["diagnostics"][frame.basename]
        validation = [line for line in lines if line.startswith(VALIDATION_PREFIX)]
        assert len(validation) == 10
        for line in validation:
            fields = line[len(VALIDATION_PREFIX):].split("|")
            assert len(fields) == 7
            assert all(field.strip() for field in fields)
            assert abs(float(fields[5]) - float(fields[6])) < 0.1
    downloads = [item for item in scene["result"].data_files if item.section == "downloads"]
    assert sorted(item.key for item in downloads) == ["aavso", "ecsv"]
    pictures = [item for item in scene["result"].data_files if item.section == "diagnostic_images"]
    assert len(pictures) == 20 and {item.key for item in pictures} <= {frame.basename for frame in frames}
    assert "Diagnostic pictures were made for 20 of the 60 frames, spread over the series." in \
        entry["diagnostics"]["Series"]
    assert len(json.dumps(entry)) < 400_000


def test_t22_the_aavso_report_of_the_series(scene):
    """Every row as an observation: mid-exposure JD, SR, the ensemble and the check star, na where unknown."""
    [entry] = scene["result"].output_data
    [report] = [item for item in scene["result"].data_files if item.key == "aavso"]
    parameters, observations = parse_report(report.path.read_text())
    assert list(parameters) == ["TYPE", "OBSCODE", "SOFTWARE", "DELIM", "DATE", "OBSTYPE"]
    assert (parameters["TYPE"], parameters["OBSCODE"], parameters["DATE"], parameters["OBSTYPE"]) == \
        ("EXTENDED", "TST01", "JD", "CCD")
    rows = entry["light_curve"]
    assert len(observations) == len(rows) == 60
    check = entry["check_star"]
    for line, row, frame in zip(observations, rows, scene["frames"], strict=True):
        assert (line["STARID"], line["FILTER"], line["TRANS"], line["MTYPE"]) == ("V1", "SR", "NO", "STD")
        assert (line["CNAME"], line["CMAG"], line["GROUP"], line["CHART"]) == ("ENSEMBLE", "na", "na", "X36483DQK")
        assert abs(float(line["DATE"]) - row["julian_date"]) <= 5e-7
        assert abs(float(line["DATE"]) - frame.mid_jd) <= 1e-6
        assert "." in line["MAGNITUDE"] and abs(float(line["MAGNITUDE"]) - row["mag"]) <= 5e-4
        assert abs(float(line["MAGERR"]) - row["magerr"]) <= 5e-4
        assert line["KNAME"] == check["candidate_id"]
        assert abs(float(line["KMAG"]) - row["check_star_mag"]) <= 5e-4
        assert abs(float(line["AMASS"]) - frame.airmass) <= 1e-4
    # KMAG is the check star's own magnitude: the field star at its position, within its scatter.
    [truth] = [star for star in scene["field"].stars
               if abs(star.ra - check["ra"]) < 1e-4 and abs(star.dec - check["dec"]) < 1e-4]
    kmag = np.array([float(line["KMAG"]) for line in observations])
    assert abs(np.median(kmag) - truth.mag) <= 3 * check["rms_mag"] + 0.01


def test_the_target_centroid_is_on_the_star(scene):
    [entry] = scene["result"].output_data
    for row in entry["light_curve"]:
        assert abs(row["target_centroid_x"] - 127.5) <= 0.1 and abs(row["target_centroid_y"] - 127.5) <= 0.1


@pytest.mark.parametrize(("changes", "message"), [
    ({"aperture_radius": 9.0}, "Aperture Photometry: the radii must satisfy 0 < aperture_radius < "
                               "annulus_inner_radius < annulus_outer_radius."),
    ({"min_comparisons": 6, "max_comparisons": 5}, "Aperture Photometry: the comparison counts must satisfy "
                                                   "0 < min_comparisons <= max_comparisons."),
])
def test_inconsistent_settings_are_refused(changes, message):
    data = {"source": {"ra": 1.0, "dec": 2.0}, "input_files": [{"source": "archive", "basename": "a"}],
            **RADII, **changes}
    with pytest.raises(InputValidationError) as refused:
        AperturePhotometry.validate_input_data(data)
    assert str(refused.value) == message


def test_target_positions_from_api_clients_name_the_target_and_the_cache_key():
    base = {"input_files": [{"source": "archive", "basename": "a"}]}
    by_positions = {**base, "target_positions": [{"ra": 10.0, "dec": 20.0}]}
    AperturePhotometry.validate_input_data(by_positions)
    assert AperturePhotometry.cache_key(by_positions) == AperturePhotometry.cache_key(
        {**base, "source": {"ra": 10.0, "dec": 20.0}})
    assert AperturePhotometry.cache_key(by_positions) != AperturePhotometry.cache_key(
        {**base, "target_positions": [{"ra": 10.0, "dec": 20.5}]})


def test_too_few_comparisons_fail_with_what_to_do(tmp_path, context_for):
    rng = np.random.default_rng(8)
    field = make_field(rng, count=3)
    frames = make_series(tmp_path, field, [2461345.8, 2461345.9], rng, shape=(256, 256))
    operation = AperturePhotometry({"source": {"ra": field.ra, "dec": field.dec}, "input_files": items(frames),
                                    **RADII})
    with pytest.raises(OperationError) as failed:
        operation.operate(context_for(frames))
    assert str(failed.value) == ("Only 3 comparison star(s) were measurable on every frame with a consistent "
                                 "catalogue magnitude; at least 5 are needed. Use frames of one field with a source "
                                 "catalogue, or lower min_comparisons.")
