"""The demo sky is coherent: one star field per target, dithered frames, white stars, a variable
star and a moving asteroid, CAT tables that match the pixels, and the header keywords the front
end and the photometry operations read."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.wcs import WCS

from datalab.local_archive.synthetic import DEMO_SERIES, demo_frame_plan, make_frame

NIGHT = datetime(2026, 11, 30, tzinfo=timezone.utc)
SIZE = 512


@pytest.fixture(scope="module")
def frames():
    plan = demo_frame_plan(night=NIGHT, seed=1, size=SIZE)
    return [(arguments, make_frame(**arguments)) for arguments in plan]


def of_target(frames, target, filter_name=None):
    return [(a, h) for a, h in frames if a["target_name"] == target and filter_name in (None, a["filter_name"])]


def nearest(catalog, ra, dec):
    distance = np.hypot((catalog["ra"] - ra) * math.cos(math.radians(dec)), catalog["dec"] - dec) * 3600.0
    index = int(np.argmin(distance))
    return catalog[index], float(distance[index])


def test_every_frame_has_the_keywords_the_front_end_and_photometry_read(frames):
    for arguments, hdul in frames:
        header = hdul["SCI"].header
        for keyword in ("SITEID", "TELID", "INSTRUME", "DATE", "RA", "DEC", "OBJECT", "PROPID", "FILTER",
                        "DATE-OBS", "MJD-OBS", "EXPTIME", "GAIN", "RDNOISE", "SATURATE", "PIXSCALE",
                        "LATITUDE", "LONGITUD", "HEIGHT", "AIRMASS", "L1FWHM", "L1ZP", "SRCTYPE",
                        "CAT-RA", "CAT-DEC"):
            assert keyword in header, (keyword, arguments["target_name"])
        written = datetime.fromisoformat(header["DATE"]).replace(tzinfo=timezone.utc)
        started = datetime.fromisoformat(header["DATE-OBS"]).replace(tzinfo=timezone.utc)
        assert started + timedelta(seconds=header["EXPTIME"]) < written < started + timedelta(minutes=10)
        assert 1.0 <= header["AIRMASS"] < 2.0  # every series is observed near its meridian transit
        assert abs(header["MJD-OBS"] - (started.timestamp() / 86400.0 + 40587.0)) < 1e-7


def test_frames_of_one_target_share_stars_at_dithered_pixels(frames):
    m51_rp = of_target(frames, "M51", "rp")
    assert len(m51_rp) == 3
    reference = m51_rp[0][1]["CAT"].data
    bright = reference[np.argsort(reference["mag"])[:10]]
    offsets = []
    for _, hdul in m51_rp[1:]:
        catalog, wcs = hdul["CAT"].data, WCS(hdul["SCI"].header)
        for star in bright:
            x, y = (float(value) for value in wcs.all_world2pix(star["ra"], star["dec"], 1))
            if not (5 < x < SIZE - 5 and 5 < y < SIZE - 5):
                continue  # dithered off this frame
            match, separation = nearest(catalog, star["ra"], star["dec"])
            assert separation < 0.01  # arcsec: the same sky position
            assert match["mag"] == pytest.approx(star["mag"], abs=1e-9)
            assert (x, y) == pytest.approx((match["x"], match["y"]), abs=1e-3)
            offsets.append(math.hypot(match["x"] - star["x"], match["y"] - star["y"]))
    assert offsets and 1.0 < max(offsets) < 2 * 40.0 * math.sqrt(2.0)


def test_stars_are_white_the_same_magnitude_in_every_filter(frames):
    by_filter = {name: of_target(frames, "M51", name)[0][1] for name in ("rp", "V", "B")}
    rp = by_filter["rp"]["CAT"].data
    star = rp[np.argsort(rp["mag"])[3]]
    for hdul in by_filter.values():
        match, separation = nearest(hdul["CAT"].data, star["ra"], star["dec"])
        assert separation < 0.01 and match["mag"] == pytest.approx(star["mag"], abs=1e-9)


def test_catalog_fluxes_are_in_the_pixels(frames):
    _, hdul = of_target(frames, "M51", "rp")[0]
    pixels, catalog, header = hdul["SCI"].data, hdul["CAT"].data, hdul["SCI"].header
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    checked = 0
    for star in catalog[catalog["flux"] > 3e4]:
        x, y = star["x"] - 1.0, star["y"] - 1.0
        neighbours = np.hypot(catalog["x"] - star["x"], catalog["y"] - star["y"])
        if not (25 < x < SIZE - 25 and 25 < y < SIZE - 25) or star["flag"] or np.sort(neighbours)[1] < 20:
            continue
        distance = np.hypot(columns - x, rows - y)
        sky = np.median(pixels[(distance > 12) & (distance < 20)])
        measured = float(np.sum(pixels[distance < 8] - sky))
        assert measured == pytest.approx(star["flux"], rel=0.04)
        assert star["mag"] == pytest.approx(header["L1ZP"] + 2.5 * math.log10(header["EXPTIME"])
                                            - 2.5 * math.log10(star["flux"]), abs=1e-4)
        checked += 1
    assert checked >= 2


def test_the_variable_star_follows_its_light_curve(frames):
    series = next(s for s in DEMO_SERIES if s.variable)
    mean, amplitude, period = series.variable
    frames_of_variable = of_target(frames, series.target)
    assert len(frames_of_variable) >= 8 and len({a["observation_date"].date() for a, _ in frames_of_variable}) == 3
    times, magnitudes, comparison = [], [], []
    first = frames_of_variable[0][1]["CAT"].data
    off_target = np.hypot((first["ra"] - series.ra) * math.cos(math.radians(series.dec)), first["dec"] - series.dec)
    in_every_frame = [star for star in first[off_target > 5 / 3600]
                      if all(nearest(h["CAT"].data, star["ra"], star["dec"])[1] < 0.01 for _, h in frames_of_variable)]
    reference = min(in_every_frame, key=lambda star: star["mag"])
    for _, hdul in frames_of_variable:
        header, catalog = hdul["SCI"].header, hdul["CAT"].data
        match, separation = nearest(catalog, series.ra, series.dec)
        assert separation < 0.01
        times.append(header["MJD-OBS"] + header["EXPTIME"] / 2.0 / 86400.0 + 2400000.5)
        magnitudes.append(match["mag"])
        same_star, separation = nearest(catalog, reference["ra"], reference["dec"])
        assert separation < 0.01
        comparison.append(float(same_star["mag"]))
    times, magnitudes = np.array(times), np.array(magnitudes)
    # A sine of the stated period fits the magnitudes exactly (least squares on sin/cos/offset).
    design = np.column_stack([np.sin(2 * np.pi * times / period), np.cos(2 * np.pi * times / period),
                              np.ones_like(times)])
    solution, *_ = np.linalg.lstsq(design, magnitudes, rcond=None)
    assert np.max(np.abs(design @ solution - magnitudes)) < 1e-5
    assert math.hypot(solution[0], solution[1]) == pytest.approx(amplitude, abs=1e-5)
    assert solution[2] == pytest.approx(mean, abs=1e-5)
    assert np.ptp(magnitudes) > amplitude  # the sampling covers the light curve
    assert len(set(comparison)) == 1  # the other stars do not vary


def test_the_asteroid_moves_at_its_rate_and_the_stars_do_not(frames):
    series = next(s for s in DEMO_SERIES if s.mover)
    magnitude, ra_rate, dec_rate = series.mover
    positions, moments = [], []
    for _, hdul in of_target(frames, series.target):
        catalog, header = hdul["CAT"].data, hdul["SCI"].header
        asteroid = catalog[np.abs(catalog["mag"] - magnitude) < 1e-9]
        assert len(asteroid) == 1
        positions.append((asteroid[0]["ra"], asteroid[0]["dec"]))
        moments.append(datetime.fromisoformat(header["DATE-OBS"]) + timedelta(seconds=header["EXPTIME"] / 2))
    hours = (moments[-1] - moments[0]).total_seconds() / 3600.0
    moved_ra = (positions[-1][0] - positions[0][0]) * math.cos(math.radians(series.dec)) * 3600.0
    moved_dec = (positions[-1][1] - positions[0][1]) * 3600.0
    assert moved_ra == pytest.approx(ra_rate * hours, abs=0.05)
    assert moved_dec == pytest.approx(dec_rate * hours, abs=0.05)
    assert math.hypot(moved_ra, moved_dec) / 0.389 > 20  # pixels: clearly a moving source
