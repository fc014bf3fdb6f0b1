"""Light Curve and Variable Star (catalogue engine) on kit frames, run in memory."""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time

from data_operations.errors import InputValidationError, OperationError
from data_operations.light_curve import LightCurve
from data_operations.variable_star import VariableStar
from tests.photometry.conftest import items, strict_json
from tests.photometry.kit import make_field, make_series, nightly_epochs

PERIOD = 0.3127


def catalog_series(tmp_path, seed: int, *, nights: int, per_night: int, skip: int = 0, **options):
    rng = np.random.default_rng(seed)
    field = make_field(rng, variation=(0.25, PERIOD, 2461345.0))
    times = nightly_epochs(rng, nights=nights, per_night=per_night, ra=field.ra, skip=skip)
    frames = make_series(tmp_path, field, times, rng, render=False, shape=(256, 256), cat_mag_noise=0.01,
                         **options)
    return field, frames


def test_light_curve_rows_come_from_the_catalogue_and_the_header(tmp_path, context_for):
    field, frames = catalog_series(tmp_path, 1, nights=3, per_night=3)
    no_catalog = make_series(tmp_path, field, [frames[-1].mid_jd + 0.01], np.random.default_rng(2),
                             prefix="nocat", render=False, catalog=False)[0]
    no_match = make_series(tmp_path, field, [frames[-1].mid_jd + 0.02], np.random.default_rng(3),
                           prefix="nomatch", render=False, drop_target_from_catalog=True)[0]
    shuffled = [frames[4], no_catalog, *frames[:4], no_match, *frames[5:]]
    source = {"name": "V1", "ra": field.ra, "dec": field.dec}

    operation = LightCurve({"source": source, "input_files": items(shuffled), "aavso_obscode": "TST01"})
    result = operation.operate(context_for(shuffled))

    [entry] = result.output_data
    strict_json(entry)
    rows = entry["light_curve"]
    assert [row["fits_path"] for row in rows] == [frame.basename for frame in frames]
    for row, frame in zip(rows, frames, strict=True):
        mid = Time(frame.mid_jd, format="jd", scale="utc")
        assert abs(row["julian_date"] - frame.mid_jd) <= 1e-8
        assert abs(Time(row["observation_date"].rstrip("Z"), scale="utc").jd - mid.jd) * 86400 <= 1e-3
        assert row["observation_date"].endswith("Z") and row["exptime"] == 60.0
        assert abs(row["airmass"] - frame.airmass) <= 1e-6
        assert 0 < abs(row["bjd_tdb"] - row["julian_date"]) <= 0.0070
        assert abs(row["mag"] - frame.target_mag) <= 0.05
    assert entry["excluded_images"] == [no_catalog.basename, no_match.basename]
    assert entry["diagnostics"][no_match.basename] == ["Excluded: no catalogued source within 4 arcsec of the "
                                                       "target."]
    assert entry["diagnostics"]["Series"][0] == (f"{no_catalog.basename} was excluded: Frame {no_catalog.basename} "
                                                 "has no CAT source catalogue.")
    assert entry["source"] == source and entry["target_coords"] == source and entry["filter"] == "rp"
    assert entry["flux_fallback"] is False
    assert "period" not in entry
    download, report = result.data_files
    table = Table.read(download.path, format="ascii.ecsv")
    assert list(table["fits_path"]) == [frame.basename for frame in frames]
    np.testing.assert_allclose(table["mag"], [row["mag"] for row in rows])
    assert (download.key, download.entry) == ("ecsv", 0)
    assert (report.key, report.entry, report.path.suffix) == ("aavso", 0, ".txt")


def test_variable_star_recovers_the_period_from_catalogue_magnitudes(tmp_path, context_for):
    field, frames = catalog_series(tmp_path, 7, nights=12, per_night=5)
    operation = VariableStar({"source": {"ra": field.ra, "dec": field.dec}, "input_files": items(frames)})

    [entry] = operation.operate(context_for(frames)).output_data

    strict_json(entry)
    baseline = frames[-1].mid_jd - frames[0].mid_jd
    assert abs(entry["period"] - PERIOD) <= 0.25 * PERIOD ** 2 / baseline
    assert entry["fap"] < 1e-6
    assert len(entry["frequency"]) == len(entry["power"]) == len(entry["window_power"]) <= 2000
    # The strongest shown frequency is the reported period, as the front end recomputes it.
    assert 1 / entry["frequency"][int(np.argmax(entry["power"]))] == pytest.approx(entry["period"], rel=1e-12)
    peak, double = entry["period_candidates"]
    assert (peak["kind"], double["kind"]) == ("peak", "double") and double["period"] == 2 * peak["period"]
    search = entry["period_search"]
    assert search["time_scale"] == "bjd_tdb" and search["max_frequency"] >= 10 and search["nterms"] == 1


def test_one_point_a_night_recovers_a_short_period(tmp_path, context_for):
    rng = np.random.default_rng(21)
    field = make_field(rng, variation=(0.3, 0.3, 2461345.0))
    times = nightly_epochs(rng, nights=40, per_night=1, ra=field.ra, skip=18, jitter_days=0.12)
    frames = make_series(tmp_path, field, times, rng, render=False, shape=(64, 64), cat_mag_noise=0.01)
    [entry] = VariableStar({"source": {"ra": field.ra, "dec": field.dec},
                            "input_files": items(frames)}).operate(context_for(frames)).output_data
    baseline = frames[-1].mid_jd - frames[0].mid_jd
    assert baseline <= 58.1
    assert abs(entry["period"] - 0.3) <= 0.25 * 0.09 / baseline
    assert entry["fap"] < 1e-6


def test_seven_usable_points_give_a_light_curve_without_a_period(tmp_path, context_for):
    field, frames = catalog_series(tmp_path, 3, nights=2, per_night=4)
    unmatched = make_series(tmp_path, field, [frames[-1].mid_jd + 0.01], np.random.default_rng(4),
                            prefix="nomatch", render=False, drop_target_from_catalog=True)[0]
    inputs = [*frames[:7], unmatched]
    result = VariableStar({"source": {"ra": field.ra, "dec": field.dec},
                           "input_files": items(inputs)}).operate(context_for(inputs))
    [entry] = result.output_data
    assert len(entry["light_curve"]) == 7
    assert not {"period", "fap", "frequency", "power", "period_candidates", "window_power"} & set(entry)
    note = "No period was searched: 7 usable points, 8 are needed."
    assert note in entry["diagnostics"]["Series"] and note in result.warnings


def test_a_target_outside_every_frame_fails_with_what_to_do(tmp_path, context_for):
    field, frames = catalog_series(tmp_path, 5, nights=1, per_night=2)
    operation = LightCurve({"source": {"ra": field.ra + 1.0, "dec": field.dec}, "input_files": items(frames)})
    with pytest.raises(OperationError) as failed:
        operation.operate(context_for(frames))
    assert str(failed.value) == (f"The target at RA {field.ra + 1.0:.5f}, Dec {field.dec:.5f} lies outside every "
                                 "input frame; choose frames that cover it.")


@pytest.mark.parametrize(("operation", "input_data", "message"), [
    (LightCurve, {"input_files": [{"source": "archive", "basename": "a"}]},
     "Light Curve needs 'source' (Source Star): the star to measure, with 'ra' and 'dec' in degrees."),
    (VariableStar, {"source": {"ra": 1.0, "dec": 2.0}, "input_files": [{"source": "archive", "basename": "a"}]},
     "Variable Star: 'input_files' needs at least 8 file(s); got 1."),
    (LightCurve, {"source": {"ra": 400.0, "dec": 2.0}, "input_files": [{"source": "archive", "basename": "a"}]},
     "Light Curve: 'source' has 'ra' outside 0..360 or 'dec' outside -90..90."),
])
def test_wrong_inputs_are_refused_with_a_sentence(operation, input_data, message):
    with pytest.raises(InputValidationError) as refused:
        operation.validate_input_data(input_data)
    assert str(refused.value) == message


def test_a_frame_without_site_keywords_has_a_null_bjd_and_the_period_uses_julian_dates(tmp_path, context_for):
    field, frames = catalog_series(tmp_path, 9, nights=2, per_night=5)
    siteless = make_series(tmp_path, field, [frames[-1].mid_jd + 0.02], np.random.default_rng(5), prefix="nosite",
                           render=False, extra_header={"LATITUDE": None, "LONGITUD": None})[0]
    inputs = [*frames, siteless]
    [entry] = VariableStar({"source": {"ra": field.ra, "dec": field.dec},
                            "input_files": items(inputs)}).operate(context_for(inputs)).output_data
    strict_json(entry)
    rows = {row["fits_path"]: row for row in entry["light_curve"]}
    assert rows[siteless.basename]["bjd_tdb"] is None
    assert all(math.isfinite(rows[frame.basename]["bjd_tdb"]) for frame in frames)
    assert entry["period_search"]["time_scale"] == "julian_date"
