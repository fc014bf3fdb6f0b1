"""T22: the AAVSO Extended Format report, read back with a parser written from the format's text."""
from __future__ import annotations

import math

import numpy as np
import pytest

from data_operations.light_curve import LightCurve
from data_operations.photometry.aavso import ReportHeader, extended_report
from tests.photometry.conftest import items
from tests.photometry.kit import make_field, make_series
from tests.photometry.report_reader import REQUIRED_PARAMETERS, parse_report

ROWS = [
    {"julian_date": 2461345.7039904, "bjd_tdb": 2461345.7102741, "mag": 13.99812, "magerr": 0.00871, "airmass": 1.11474,
     "check_star_mag": 12.89764, "fits_path": "elp1m008-fa05-20261101-0000-e91"},
    # No target magnitude on this frame: the format cannot report it.
    {"julian_date": 2461345.74, "bjd_tdb": 2461345.75, "mag": None, "magerr": None, "airmass": 1.02,
     "check_star_mag": 12.88, "fits_path": "elp1m008-fa05-20261101-0001-e91"},
    # Nothing known of the site: no airmass, no BJD; no error either.
    {"julian_date": 2461346.5, "bjd_tdb": float("nan"), "mag": 14.0, "magerr": None, "airmass": None,
     "check_star_mag": float("nan"), "fits_path": "elp1m008-fa05-20261101-0002-e91"},
]


def test_the_report_has_the_six_parameters_and_fifteen_fields_a_line():
    header = ReportHeader(obscode="TST01", star_id="V1 Tri", filter_name="rp", software="Datalab 0.1.0",
                          chart="X36483DQK", check_name="cand-009", notes={"OP": "Aperture Photometry"})
    text = extended_report(ROWS, header)
    parameters, observations = parse_report(text)

    assert [line.partition("=")[0] for line in text.splitlines()[:6]] == [f"#{key}" for key in REQUIRED_PARAMETERS]
    assert sum(line.startswith("#") for line in text.splitlines()) == 6
    assert parameters == {"TYPE": "EXTENDED", "OBSCODE": "TST01", "SOFTWARE": "Datalab 0.1.0", "DELIM": ",",
                          "DATE": "JD", "OBSTYPE": "CCD"}
    assert len(observations) == 2
    first, last = observations
    assert (first["STARID"], first["FILTER"], first["TRANS"], first["MTYPE"]) == ("V1 Tri", "SR", "NO", "STD")
    assert (first["CNAME"], first["CMAG"], first["KNAME"], first["GROUP"], first["CHART"]) == \
        ("ENSEMBLE", "na", "cand-009", "na", "X36483DQK")
    assert abs(float(first["DATE"]) - ROWS[0]["julian_date"]) <= 5e-7
    assert "." in first["MAGNITUDE"] and abs(float(first["MAGNITUDE"]) - ROWS[0]["mag"]) <= 5e-4
    assert abs(float(first["MAGERR"]) - ROWS[0]["magerr"]) <= 5e-4
    assert abs(float(first["KMAG"]) - ROWS[0]["check_star_mag"]) <= 5e-4
    assert abs(float(first["AMASS"]) - ROWS[0]["airmass"]) <= 5e-5
    notes = dict(pair.split("=", 1) for pair in first["NOTES"].split("|"))
    assert abs(float(notes["BJD_TDB"]) - ROWS[0]["bjd_tdb"]) <= 5e-7
    assert notes["FRAME"] == ROWS[0]["fits_path"] and notes["OP"] == "Aperture Photometry"
    # A whole magnitude still carries its dot; what is not known is na.
    assert last["MAGNITUDE"] == "14.000" and float(last["DATE"]) == 2461346.5
    assert (last["MAGERR"], last["AMASS"], last["KMAG"]) == ("na", "na", "na")
    assert "BJD_TDB" not in last["NOTES"]


def test_without_check_star_or_chart_their_fields_are_na():
    header = ReportHeader(obscode="TST01", star_id="V1", filter_name="gp", software="Datalab")
    _, observations = parse_report(extended_report(ROWS[:1], header))
    [line] = observations
    assert (line["FILTER"], line["KNAME"], line["KMAG"], line["CHART"]) == ("SG", "na", "na", "na")


@pytest.mark.parametrize(("observatory", "band"), [("gp", "SG"), ("rp", "SR"), ("ip", "SI"), ("zs", "SZ"),
                                                   ("up", "SU"), ("V", "V"), ("B", "B"), ("w", "na"), (None, "na")])
def test_observatory_filters_map_to_aavso_band_codes(observatory, band):
    header = ReportHeader(obscode="TST01", star_id="V1", filter_name=observatory, software="Datalab")
    _, [line] = parse_report(extended_report(ROWS[:1], header))
    assert line["FILTER"] == band


def test_free_text_never_breaks_a_line():
    header = ReportHeader(obscode="TS,T\n01", star_id="NGC 1234, star #7\nsecond line of a very long name",
                          filter_name="rp", software="Datalab", chart="a,b", check_name="cand-001")
    parameters, [line] = parse_report(extended_report(ROWS[:1], header))
    assert parameters["OBSCODE"] == "TS T 01"
    assert line["STARID"] == "NGC 1234 star 7 second line of"
    assert len(line["STARID"]) <= 30 and line["CHART"] == "a b"


def test_a_light_curve_in_each_filter_reports_its_band(tmp_path, context_for):
    """Through the operation: the frames' filter becomes the band code, times are each frame's mid-exposure."""
    rng = np.random.default_rng(41)
    field = make_field(rng, count=4)
    for filter_name, band in (("gp", "SG"), ("rp", "SR"), ("ip", "SI"), ("zs", "SZ")):
        frames = make_series(tmp_path, field, [2461345.70, 2461345.75], rng, prefix=f"lc-{filter_name}", render=False,
                             shape=(96, 96), filter_name=filter_name)
        operation = LightCurve({"source": {"name": "V1", "ra": field.ra, "dec": field.dec},
                                "input_files": items(frames, filter_name), "aavso_obscode": "TST01"})
        result = operation.operate(context_for(frames))
        [report] = [item for item in result.data_files if item.key == "aavso"]
        parameters, observations = parse_report(report.path.read_text())
        assert parameters["OBSCODE"] == "TST01"
        assert [line["FILTER"] for line in observations] == [band, band]
        assert [line["STARID"] for line in observations] == ["V1", "V1"]
        for line, frame in zip(observations, frames, strict=True):
            assert abs(float(line["DATE"]) - frame.mid_jd) <= 1e-6
            assert abs(float(line["MAGNITUDE"]) - frame.target_mag) <= 5e-4
            assert abs(float(line["AMASS"]) - frame.airmass) <= 1e-4
            assert (line["CNAME"], line["CMAG"], line["KNAME"], line["KMAG"], line["CHART"]) == \
                ("ENSEMBLE", "na", "na", "na", "na")
        assert all(math.isfinite(float(line["MAGERR"])) for line in observations)


@pytest.mark.parametrize("obscode", [None, "", "  "])
def test_without_an_observer_code_there_is_no_report(tmp_path, context_for, obscode):
    """Every report line is attributed to the observer code, so none is written without one; the ECSV stays."""
    rng = np.random.default_rng(43)
    field = make_field(rng, count=4)
    frames = make_series(tmp_path, field, [2461345.70, 2461345.75], rng, render=False, shape=(96, 96))
    operation = LightCurve({"source": {"name": "V1", "ra": field.ra, "dec": field.dec},
                            "input_files": items(frames, "rp"), "aavso_obscode": obscode})
    result = operation.operate(context_for(frames))
    keys = [item.key for item in result.data_files]
    assert "ecsv" in keys and "aavso" not in keys
