"""T11 and T12: mid-exposure times, BJD_TDB and airmass from frame headers, offline."""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from data_operations.errors import OperationError
from data_operations.photometry.frame_facts import frame_facts
from data_operations.photometry.times import series_times
from tests.photometry.kit import SITE, closed_form_airmass, transit_jd


def header(**keys) -> fits.Header:
    base = {"DATE-OBS": "2026-05-04T03:12:15.500", "EXPTIME": 60.0, "LATITUDE": 31.67, "LONGITUD": -110.7,
            "HEIGHT": 2080.0}
    base.update(keys)
    return fits.Header({k: v for k, v in base.items() if v is not None})


def test_mid_exposure_julian_date_and_golden_bjd_tdb():
    facts = frame_facts(header())
    times = series_times([facts], 150.0, 20.0)

    assert times.observation_date == ["2026-05-04T03:12:45.500Z"]
    assert times.date_obs == ["2026-05-04T03:12:15.500Z"]
    expected_jd = Time("2026-05-04T03:12:45.5", scale="utc").jd
    assert abs(times.julian_date[0] - expected_jd) <= 1e-8
    # Golden value computed with the pinned astropy (light travel time 101.50 s at this epoch).
    assert abs(times.bjd_tdb[0] - 2461164.6358354925) * 86400 <= 1e-3
    assert abs(times.bjd_tdb[0] - times.julian_date[0]) <= 0.0070


def test_mjd_obs_is_preferred_to_date_obs_and_missing_times_are_refused():
    facts = frame_facts(header(**{"MJD-OBS": 61164.0, "EXPTIME": 120.0}))
    assert facts.mid_mjd == pytest.approx(61164.0 + 60.0 / 86400, abs=1e-12)
    with pytest.raises(OperationError) as refused:
        frame_facts(header(**{"DATE-OBS": None}), "f1")
    assert str(refused.value) == "Frame f1 has no usable DATE-OBS or MJD-OBS, so it cannot be placed in time."


def test_without_a_site_bjd_is_unknown_and_header_airmass_is_kept():
    facts = frame_facts(header(LATITUDE=None, LONGITUD=None, AIRMASS=1.234))
    times = series_times([facts], 150.0, 20.0)
    assert math.isnan(times.bjd_tdb[0])
    assert times.airmass[0] == 1.234


@pytest.mark.parametrize("hours_from_transit", [-3.0, -1.5, 0.0, 2.0, 3.5])
def test_airmass_computed_when_the_header_has_none(hours_from_transit):
    ra, dec = 40.0, 30.0
    mid = transit_jd(2461345.5, ra) + hours_from_transit / 24
    start = Time(mid - 30 / 86400, format="jd", scale="utc")
    facts = frame_facts(header(**{"DATE-OBS": start.isot, "AIRMASS": None}, **{k: v for k, v in SITE.items()}))
    expected = closed_form_airmass(ra, dec, mid, SITE["LATITUDE"], SITE["LONGITUD"])
    assert expected < 2.0  # altitude above 30 degrees
    computed = series_times([facts], ra, dec).airmass[0]
    assert abs(computed - expected) <= 0.01


def test_frames_from_two_sites_in_one_series():
    first = frame_facts(header())
    second = frame_facts(header(LATITUDE=-30.17, LONGITUD=-70.8, HEIGHT=2198.0))
    times = series_times([first, second], 150.0, 20.0)
    assert times.julian_date[0] == times.julian_date[1]
    assert np.all(np.isfinite(times.bjd_tdb))
    # The site moves the barycentric correction by at most the Earth's radius over c (21 ms).
    assert 0 < abs(times.bjd_tdb[0] - times.bjd_tdb[1]) * 86400 < 0.022
