"""T15, T16: Non-Sidereal Aperture Photometry, and the evolving calibration it falls back to.

T15's scene: the telescope tracks a constant 14.0 mag object moving 240 arcsec/h (40 arcsec per
10-minute frame) across a 256-arcsec field, so the comparison stars of the first frame are all gone
by the seventh and no ensemble spans the series.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from data_operations.errors import OperationError
from data_operations.non_sidereal_photometry import NonSiderealPhotometry
from data_operations.photometry.ensemble import Candidates, calibrate_evolving, solve_zero_points
from data_operations.photometry.output import VALIDATION_PREFIX
from tests.data_operations.conftest import MemoryContext
from tests.photometry.conftest import items, strict_json
from tests.photometry.kit import Track, make_field, make_moving_series, make_series, scatter_stars

RADII = {"aperture_radius": 4.0, "annulus_inner_radius": 8.0, "annulus_outer_radius": 14.0}
JD0 = 2461345.75
EVOLVING_NOTE = ("Evolving calibration: fewer than 5 comparison stars were measurable on every frame, so each frame "
                 "was calibrated against its own comparison stars, tied to its neighbours' through the stars they "
                 "share.")


@pytest.fixture(scope="module")
def drifting(tmp_path_factory):
    directory = tmp_path_factory.mktemp("non_sidereal")
    rng = np.random.default_rng(15)
    track = Track(40.0, 30.0, JD0, ra_rate=240.0, dec_rate=0.0)
    stars = scatter_stars(rng, ra=40.0, dec=30.0, count=60, x_range=(-160, 600), y_range=(-125, 125),
                          keep_clear_of_y=18)
    times = [JD0 + k * 10 / 1440 for k in range(12)]
    frames = make_moving_series(directory, stars, track, times, rng, zero_point0=25.0, transparency=0.3)
    work = directory / "work"
    work.mkdir()
    context = MemoryContext({frame.basename: frame.path for frame in frames}, work)
    result = NonSiderealPhotometry({"input_files": items(frames), **RADII}).operate(context)
    return {"frames": frames, "track": track, "stars": stars, "result": result}


def test_t15_the_ensemble_turns_over_and_the_evolving_solve_keeps_the_target_flat(drifting):
    frames = drifting["frames"]
    # The scene does what it claims: no star is on the first and the last frame alike.
    first, last = (drifting["track"].at(frames[i].mid_jd) for i in (0, -1))
    assert all(abs(star.ra - first[0]) * 3600 * math.cos(math.radians(30)) > 128
               or abs(star.ra - last[0]) * 3600 * math.cos(math.radians(30)) > 128 for star in drifting["stars"])
    [entry] = drifting["result"].output_data
    strict_json(entry)
    assert entry["diagnostics"]["Series"][0] == EVOLVING_NOTE
    assert entry["pipeline_diagnostics"] == entry["diagnostics"]["Series"]
    rows = entry["light_curve"]
    assert [row["fits_path"] for row in rows] == [frame.basename for frame in frames]
    residual = np.array([row["mag"] for row in rows]) - np.array([frame.target_mag for frame in frames])
    assert np.std(residual) <= 0.02
    assert abs(np.mean(residual)) <= 0.02
    assert all(row["n_comparisons"] == 10 for row in rows)
    assert entry["source"] == {"name": "2026 XY1", "ra": pytest.approx(40.0, abs=1e-6), "dec": pytest.approx(30.0)}


def test_t15_rows_follow_the_target_and_name_the_stars_each_frame_used(drifting):
    [entry] = drifting["result"].output_data
    cos_dec = math.cos(math.radians(30.0))
    for frame, row in zip(drifting["frames"], entry["light_curve"], strict=True):
        ra, dec = drifting["track"].at(frame.mid_jd)
        assert abs(row["target_ra"] - ra) * 3600 * cos_dec <= 0.1 and abs(row["target_dec"] - dec) * 3600 <= 0.1
        assert abs(row["target_centroid_x"] - 127.5) <= 0.1 and abs(row["target_centroid_y"] - 127.5) <= 0.1
        validation = [line for line in entry["diagnostics"][frame.basename] if line.startswith(VALIDATION_PREFIX)]
        assert len(validation) == row["n_comparisons"]
        for line in validation:
            fields = line[len(VALIDATION_PREFIX):].split("|")
            assert len(fields) == 7 and abs(float(fields[5]) - float(fields[6])) < 0.1
            # Each named star is on this frame: within the 256-arcsec field around the target.
            assert abs(float(fields[1]) - ra) * 3600 * cos_dec < 128 and abs(float(fields[2]) - dec) * 3600 < 128
    stars = entry["selected_comparison_stars"]
    assert len(stars) > 10 and all(0 < star["frame_coverage"] < 1 for star in stars)


def test_t16_sidereal_frames_are_refused_naming_the_operation_to_use(tmp_path):
    rng = np.random.default_rng(16)
    field = make_field(rng, count=3)
    frames = make_series(tmp_path, field, [JD0, JD0 + 0.01], rng, render=False, shape=(64, 64))
    context = MemoryContext({frame.basename: frame.path for frame in frames}, tmp_path)
    with pytest.raises(OperationError) as refused:
        NonSiderealPhotometry({"input_files": items(frames), **RADII}).operate(context)
    assert str(refused.value) == (
        f"Non-Sidereal Aperture Photometry measures frames tracked on a moving target, but 2 of the 2 frames "
        f"({frames[0].basename}, {frames[1].basename}) were taken of a sidereal target (SRCTYPE = EXTRASOLAR). "
        "Use Aperture Photometry for a star, or Moving Target Aperture Photometry for a moving object crossing "
        "sidereally tracked frames.")


def test_t16_a_frame_without_its_position_is_refused(tmp_path):
    rng = np.random.default_rng(161)
    track = Track(40.0, 30.0, JD0, ra_rate=60.0, dec_rate=0.0)
    frames = make_moving_series(tmp_path, [], track, [JD0, JD0 + 0.01], rng, render=False, shape=(64, 64))
    frames += make_moving_series(tmp_path, [], track, [JD0 + 0.02], rng, render=False, shape=(64, 64), prefix="nopos",
                                 extra_header={"CAT-RA": "N/A"})
    context = MemoryContext({frame.basename: frame.path for frame in frames}, tmp_path)
    with pytest.raises(OperationError) as refused:
        NonSiderealPhotometry({"input_files": items(frames), **RADII}).operate(context)
    assert str(refused.value) == (
        "Non-Sidereal Aperture Photometry reads the target's position on each frame from its CAT-RA and CAT-DEC "
        f"header keywords, and {frames[2].basename} has no readable CAT-RA/CAT-DEC. Use Moving Target Aperture "
        "Photometry with the target's designation instead.")


def test_frames_all_at_one_position_are_measured_with_a_warning(tmp_path):
    rng = np.random.default_rng(162)
    field = make_field(rng, count=12)
    frames = make_series(tmp_path, field, [JD0 + k * 0.01 for k in range(4)], rng, zero_point0=25.0,
                         extra_header={"SRCTYPE": "MINORPLANET"})
    context = MemoryContext({frame.basename: frame.path for frame in frames}, tmp_path)
    [entry] = NonSiderealPhotometry({"input_files": items(frames), **RADII}).operate(context).output_data
    assert entry["diagnostics"]["Series"][0] == (
        "Every frame gives the same target position (CAT-RA, CAT-DEC): the telescope was not tracking a moving "
        "target, so the target was measured at one fixed position. For a moving object on sidereally tracked "
        "frames, use Moving Target Aperture Photometry.")
    residual = np.array([row["mag"] for row in entry["light_curve"]]) - field.target.mag
    assert np.max(np.abs(residual)) < 0.05


def band_scene(rng, stars=30, frames=12, per_frame=8, noise=0.0):
    """Magnitudes m[c, f] = M_c - ZP_f of stars each seen on a run of consecutive frames."""
    true_mag = rng.uniform(12, 15, stars)
    true_zero = rng.uniform(22, 23, frames)
    valid = np.zeros((stars, frames), dtype=bool)
    for star in range(stars):
        start = int(star * (frames - per_frame // 2) / stars)
        valid[star, start:start + rng.integers(3, per_frame)] = True
    mags = true_mag[:, None] - true_zero[None, :] + rng.normal(0, noise, (stars, frames))
    return true_mag, true_zero, valid, mags


def test_the_zero_point_solve_recovers_known_zero_points():
    rng = np.random.default_rng(7)
    true_mag, true_zero, valid, mags = band_scene(rng)
    magnitude, zero_point, groups, _ = solve_zero_points(mags, valid, true_mag)
    assert groups == 1
    seen = valid.any(axis=1)
    np.testing.assert_allclose(zero_point, true_zero, atol=1e-6)
    np.testing.assert_allclose(magnitude[seen], true_mag[seen], atol=1e-6)
    # Catalogue magnitudes off by a constant shift both solutions by it (the anchor), nothing else.
    magnitude, zero_point, _, _ = solve_zero_points(mags, valid, true_mag + 0.3)
    np.testing.assert_allclose(zero_point, true_zero + 0.3, atol=1e-6)


def test_disconnected_groups_are_each_anchored_and_named():
    rng = np.random.default_rng(8)
    true_mag, true_zero, valid, mags = band_scene(rng, noise=0.005)
    valid[:, 6:] = False
    second = np.zeros_like(valid)
    second[:, 6:] = True
    second[:15] = False
    valid |= second
    valid[15:, :6] = False
    net = np.where(valid, 10 ** (-0.4 * mags), np.nan)
    candidates = Candidates(ids=[f"cand-{i:03d}" for i in range(30)], catalog_mag=true_mag, net=net,
                            error=np.where(valid, 0.005 * net, np.nan), isolation=np.full(30, 60.0))
    target_net = 10 ** (-0.4 * (14.0 - true_zero))
    target_net[3] = -5.0  # an unmeasurable frame: no magnitude, never an infinity
    calibration = calibrate_evolving(target_net, 0.005 * np.abs(target_net), candidates, min_comparisons=3,
                                     max_comparisons=6)
    assert ("The frames fall into 2 groups that share no comparison star; each group is tied to the catalogue on its "
            "own, so magnitude steps may exist between them.") in calibration.notes
    finite = np.isfinite(calibration.mag)
    assert not finite[3] and finite.sum() == 11
    assert np.all(np.abs(calibration.mag[finite] - 14.0) < 0.02)
    assert not np.any(np.isinf(calibration.magerr)) and not np.any(np.isinf(calibration.relative_flux))
    assert calibration.comparisons_per_frame.tolist() == np.minimum(valid.sum(axis=0), 6).tolist()
