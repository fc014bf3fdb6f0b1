"""The demo sky's asteroid "2026 DL1" runs through both moving-target operations.

Its frames are made as the demo generator makes them: the telescope tracks the asteroid
(``SRCTYPE = MINORPLANET``, ``CAT-RA``/``CAT-DEC`` its position at mid-exposure), and the demo's
synthetic ephemeris answers for its designation from the same track the frames were drawn with.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.coordinates import Angle

from data_operations.errors import OperationError
from data_operations.moving_target_photometry import MovingTargetPhotometry
from data_operations.non_sidereal_photometry import NonSiderealPhotometry
from data_operations.photometry.catalog import separation_arcsec
from datalab.local_archive.synthetic import (
    DEMO_SERIES,
    DemoSkyHorizons,
    demo_frame_plan,
    demo_mover_epoch,
    make_frame,
    mover_position,
    write_frame,
)
from tests.data_operations.conftest import MemoryContext

NIGHT = datetime(2026, 11, 30, tzinfo=timezone.utc)
SERIES = next(series for series in DEMO_SERIES if series.mover)


@pytest.fixture(scope="module")
def asteroid_frames(tmp_path_factory):
    directory = tmp_path_factory.mktemp("demo_asteroid")
    frames = {}
    for plan in demo_frame_plan(night=NIGHT):
        if plan["target_name"] != SERIES.target:
            continue
        hdul = make_frame(**plan)
        basename = hdul["SCI"].header["ORIGNAME"][:-3] + "e91"
        frames[basename] = (write_frame(hdul, directory / f"{basename}.fits.fz"), hdul["SCI"].header,
                            plan["observation_date"] + timedelta(seconds=plan["exposure_time"] / 2))
    return directory, frames


def truth(middle: datetime) -> tuple[float, float]:
    return mover_position(SERIES, middle, demo_mover_epoch(SERIES, middle))


def test_the_demo_asteroid_frames_say_what_a_tracked_asteroid_says(asteroid_frames):
    _, frames = asteroid_frames
    assert len(frames) == 6
    for _, header, middle in frames.values():
        assert header["SRCTYPE"] == "MINORPLANET" and header["OBJECT"] == "2026 DL1"
        ra, dec = Angle(header["CAT-RA"], unit="hourangle").degree, Angle(header["CAT-DEC"], unit="deg").degree
        assert separation_arcsec(ra, dec, *truth(middle)) < 0.03
        # The telescope follows the asteroid: it stays within the dither of the pointing.
        assert separation_arcsec(header["CRVAL1"], header["CRVAL2"], ra, dec) < 8 * 0.389 * 1.5


def test_the_synthetic_ephemeris_answers_from_the_demo_track_only(asteroid_frames):
    _, frames = asteroid_frames
    middles = [middle for _, _, middle in frames.values()]
    jds = [middle.timestamp() / 86400 + 2440587.5 for middle in middles]
    answer = DemoSkyHorizons().ephemeris("2026 dl1", None, jds)
    for row, middle in zip(answer, middles, strict=True):
        assert separation_arcsec(row["RA"], row["DEC"], *truth(middle)) < 1e-6
    assert set(answer["targetname"]) == {"2026 DL1 (synthetic demo track)"}
    with pytest.raises(OperationError) as refused:
        DemoSkyHorizons().ephemeris("Ceres", None, jds)
    assert str(refused.value) == ("JPL Horizons could not resolve 'Ceres': the demo's synthetic ephemeris knows only "
                                  "2026 DL1.")


@pytest.mark.parametrize("operation", [NonSiderealPhotometry, MovingTargetPhotometry])
def test_both_operations_measure_the_demo_asteroid(asteroid_frames, operation):
    directory, frames = asteroid_frames
    work = directory / operation.__name__
    work.mkdir()
    context = MemoryContext({name: path for name, (path, _, _) in frames.items()}, work)
    context.horizons_provider = DemoSkyHorizons()
    inputs = {"input_files": [{"source": "archive", "basename": name, "filter": "rp"} for name in frames]}
    if operation is MovingTargetPhotometry:
        inputs["target_designation"] = "2026 DL1"
    [entry] = operation(inputs).operate(context).output_data
    rows = entry["light_curve"]
    assert [row["fits_path"] for row in rows] == list(frames)
    assert np.median([abs(row["mag"] - SERIES.mover[0]) for row in rows]) <= 0.03
    for row, (_, _, middle) in zip(rows, frames.values(), strict=True):
        assert separation_arcsec(row["target_ra"], row["target_dec"], *truth(middle)) <= 0.3
    assert entry["source"]["name"] == "2026 DL1"
