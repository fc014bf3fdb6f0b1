"""T17-T20: Moving Target Aperture Photometry's track (fit, catalogue refinement, Horizons).

T17-T19 exercise the refinement on catalogues alone (exact truth, no pixels), then T17 and T20 run
the whole operation on rendered frames. Every position is compared with the kit's track.
"""
from __future__ import annotations

import io
import json
import math
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from data_operations.errors import InputValidationError, OperationError
from data_operations.moving_target_photometry import MovingTargetPhotometry
from data_operations.photometry.catalog import separation_arcsec
from data_operations.photometry.frame_facts import Site
from data_operations.photometry.horizons import LiveHorizons, StoredHorizons, cache_key, positions_from_answer
from data_operations.photometry.track import TrackSample, fit_track, from_plane, to_plane, track_notes
from data_operations.photometry.track_refinement import FrameSources, refine_track
from tests.data_operations.conftest import MemoryContext
from tests.photometry import horizons_answer
from tests.photometry.conftest import items
from tests.photometry.kit import Track, make_moving_series, scatter_stars

RADII = {"aperture_radius": 4.0, "annulus_inner_radius": 8.0, "annulus_outer_radius": 14.0}
JD0 = 2461345.70
HOURS = [JD0 + hour / 24 for hour in range(8)]
NAME = MovingTargetPhotometry.name()


def refuse_constant(constant):
    raise ValueError(f"non-finite {constant}")


def offset(position: tuple[float, float], east: float, north: float) -> tuple[float, float]:
    ra, dec = position
    return ra + east / 3600 / math.cos(math.radians(dec)), dec + north / 3600


def sample(track: Track, jd: float, east: float = 0.0, north: float = 0.0) -> TrackSample:
    ra, dec = offset(track.at(jd), east, north)
    return TrackSample(jd - 2400000.5, ra, dec)


def catalogues(rng, track: Track, stars: list[tuple[float, float]], jds: list[float], noise: float = 0.1,
               missing: set[int] = frozenset()) -> list[FrameSources]:
    """Per frame: the field stars and (unless ``missing``) the mover, each with ``noise`` arcsec of scatter."""
    frames = []
    for index, jd in enumerate(jds):
        positions = list(stars) + ([] if index in missing else [track.at(jd)])
        jitter = rng.normal(0, noise, (len(positions), 2))
        moved = [offset(p, *j) for p, j in zip(positions, jitter, strict=True)]
        frames.append(FrameSources(jd - 2400000.5, np.array([p[0] for p in moved]), np.array([p[1] for p in moved])))
    return frames


def field_stars(rng, centre: tuple[float, float], count: int = 40) -> list[tuple[float, float]]:
    """Stars around ``centre``, none within 5 arcsec of the Dec of the object's track (no blends)."""
    offsets = [(east, north) for east, north in rng.uniform(-120, 120, (3 * count, 2)) if abs(north) > 5][:count]
    return [offset(centre, east, north) for east, north in offsets]


def errors_arcsec(fitted, track: Track, jds: list[float]) -> np.ndarray:
    ra, dec = fitted.at([jd - 2400000.5 for jd in jds])
    truth = np.array([track.at(jd) for jd in jds])
    return separation_arcsec(ra, dec, truth[:, 0], truth[:, 1])


def test_the_tangent_plane_round_trips():
    ra = np.array([0.001, 359.999, 120.0, 250.5])
    dec = np.array([-0.5, 0.4, 60.0, -30.0])
    xi, eta = to_plane(ra, dec, (0.0, 0.0))
    back_ra, back_dec = from_plane(xi, eta, (0.0, 0.0))
    assert np.isnan(xi[2]) and np.isnan(xi[3])  # beyond 90 degrees from the centre
    np.testing.assert_allclose(back_ra[:2], ra[:2], atol=1e-10)
    np.testing.assert_allclose(back_dec[:2], dec[:2], atol=1e-10)


def test_t17_a_linear_track_is_refined_to_the_truth():
    rng = np.random.default_rng(17)
    track = Track(40.0, 30.0, JD0, ra_rate=6.0, dec_rate=0.0)
    samples = [sample(track, HOURS[0]), sample(track, HOURS[-1])]
    prediction = fit_track(samples)
    assert prediction.degree == 1
    refined = refine_track(prediction, samples, catalogues(rng, track, field_stars(rng, track.at(JD0)), HOURS), 10.0)
    assert refined.refined and len(refined.detections) == 8
    assert errors_arcsec(refined.track, track, HOURS).max() <= 0.3
    [note] = refined.notes
    assert note.startswith("Track refined from the catalogues: 8 of 8 frames had a catalogued source within 10 "
                           "arcsec of the predicted position (0 stationary source(s) passed over as field stars); "
                           "0 rejected as outliers; residual RMS ")


def test_t18_a_curved_track_needs_three_positions():
    rng = np.random.default_rng(18)
    # 5 arcsec of curvature in Dec at mid-arc over 7 hours: c (3.5 h)^2 = 5.
    track = Track(40.0, 30.0, JD0 + 3.5 / 24, ra_rate=6.0, dec_rate=0.0, dec_curvature=5.0 / 3.5 ** 2)
    samples = [sample(track, HOURS[i]) for i in (0, 4, 7)]
    prediction = fit_track(samples)
    assert prediction.degree == 2
    refined = refine_track(prediction, samples, catalogues(rng, track, field_stars(rng, track.at(JD0)), HOURS), 10.0)
    residual = errors_arcsec(refined.track, track, HOURS)
    assert refined.refined and float(np.sqrt(np.mean(residual ** 2))) <= 0.3
    # A straight line through the two end positions misses the 5-arcsec bump:
    straight = fit_track([samples[0], samples[2]])
    assert errors_arcsec(straight, track, HOURS).max() > 2.0


def test_t18_a_straight_line_over_a_long_arc_is_flagged():
    track = Track(40.0, 30.0, JD0, ra_rate=6.0, dec_rate=1.0)
    line = fit_track([sample(track, JD0), sample(track, JD0 + 14 / 24)])
    notes = track_notes(line, [JD0 - 2400000.5 + k / 24 for k in range(-1, 15)])
    assert notes[0] == "Target track: a straight line through the given positions, over 14.00 h, mean rate 0.101 " \
                       "arcsec/min."
    assert notes[1] == ("Extrapolated track: 1 frame(s) lie outside the time span of the given positions (up to "
                        "1.00 h beyond it); their positions are less certain.")
    assert notes[2] == ("The track is a straight line over 14.0 h (more than 12 h): real tracks curve over such arcs. "
                        "Give a third position, near the middle of the series, for a curved track.")
    assert len(track_notes(fit_track([sample(track, JD0), sample(track, JD0 + 10 / 24)]), [])) == 1


def test_t19_a_field_star_near_the_prediction_is_never_taken_for_the_target():
    rng = np.random.default_rng(19)
    track = Track(40.0, 30.0, JD0, ra_rate=6.0, dec_rate=0.0)
    # The given positions put the track 8 arcsec north of the object; a field star sits 3 arcsec from
    # that predicted track, within the search radius on 4 frames and nearer than the object on 2.
    samples = [sample(track, HOURS[0], 0, 8.0), sample(track, HOURS[-1], 0, 8.0)]
    prediction = fit_track(samples)
    decoy = offset(track.at((HOURS[3] + HOURS[4]) / 2), 0.0, 11.0)
    frames = catalogues(rng, track, [decoy, *field_stars(rng, track.at(JD0))], HOURS, noise=0.05)
    predicted = np.array(prediction.at([jd - 2400000.5 for jd in HOURS])).T
    to_decoy = separation_arcsec(predicted[:, 0], predicted[:, 1], *decoy)
    to_object = np.array([separation_arcsec(p[0], p[1], *track.at(jd)) for p, jd in zip(predicted, HOURS,
                                                                                        strict=True)])
    assert (to_decoy < to_object).sum() == 2 and (to_decoy <= 10).sum() == 4
    refined = refine_track(prediction, samples, frames, 10.0)
    for index, detection in refined.detections.items():
        assert separation_arcsec(detection.ra, detection.dec, *decoy) > 1.0
        assert separation_arcsec(detection.ra, detection.dec, *track.at(HOURS[index])) < 0.5
    assert len(refined.detections) == 8
    # The given positions disagree with the detections by 8 arcsec: they are left out of the refit.
    assert errors_arcsec(refined.track, track, HOURS).max() <= 0.3
    assert refined.notes[1] == ("2 of the 2 given positions lie more than 3.0 arcsec (up to 8.0) from the track of "
                                "the detections and were left out of the refined track.")


def test_a_stationary_star_alone_leaves_the_prediction_standing():
    rng = np.random.default_rng(191)
    # Slow enough (1.2 arcsec/h) that no frame has two others it moved 1.5 arcsec away from: the
    # stationarity test cannot run, and the detections' spread gives the star away.
    track = Track(40.0, 30.0, JD0, ra_rate=1.2, dec_rate=0.0)
    samples = [sample(track, HOURS[0]), sample(track, HOURS[2])]
    star = track.at(HOURS[1])
    frames = [FrameSources(jd - 2400000.5, *(np.array([value]) for value in offset(star, *rng.normal(0, 0.05, 2))))
              for jd in HOURS[:3]]
    refined = refine_track(fit_track(samples), samples, frames, 10.0)
    assert not refined.refined
    assert refined.notes == ["The track was not refined: the detections near the predicted positions do not move "
                             "(less than 2 arcsec apart) while the target should; they are a field star, so the "
                             "target was measured at the given positions."]


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    """T17's scene rendered: 8 sidereal frames an hour apart, the object crossing at 6 arcsec/h."""
    directory = tmp_path_factory.mktemp("moving")
    rng = np.random.default_rng(170)
    track = Track(40.0, 30.0, JD0, ra_rate=6.0, dec_rate=0.0)
    stars = scatter_stars(rng, ra=40.0, dec=30.0, count=22, x_range=(-110, 110), y_range=(-110, 110),
                          keep_clear_of_y=18)
    frames = make_moving_series(directory, stars, track, HOURS, rng, tracking="sidereal", pointing=(40.0, 30.0),
                                srctype="EXTRASOLAR", zero_point0=25.0)
    work = directory / "work"
    work.mkdir()
    context = MemoryContext({frame.basename: frame.path for frame in frames}, work)
    positions = [{"mjd": s.mjd, "ra": s.ra, "dec": s.dec}
                 for s in (sample(track, HOURS[0], 0.6, -0.5), sample(track, HOURS[-1], -0.4, 0.5))]
    result = MovingTargetPhotometry({"input_files": items(frames), "target_positions": positions,
                                     **RADII}).operate(context)
    return {"track": track, "frames": frames, "result": result, "positions": positions}


def test_t17_the_operation_measures_the_object_where_it_is(crossing):
    [entry] = crossing["result"].output_data
    json.loads(json.dumps(entry), parse_constant=refuse_constant)
    rows = entry["light_curve"]
    assert [row["fits_path"] for row in rows] == [frame.basename for frame in crossing["frames"]]
    for frame, row in zip(crossing["frames"], rows, strict=True):
        assert separation_arcsec(row["target_ra"], row["target_dec"], *crossing["track"].at(frame.mid_jd)) <= 0.3
    residual = np.array([row["mag"] for row in rows]) - 14.0
    assert np.std(residual) <= 0.02 and abs(np.mean(residual)) <= 0.02
    assert entry["target_positions"] == crossing["positions"]
    assert entry["track_search_radius"] == 10.0
    assert "target_designation" not in entry
    assert entry["source"] == {"name": "2026 XY1", "ra": rows[0]["target_ra"] * 0 + entry["source"]["ra"],
                               "dec": entry["source"]["dec"]}
    assert separation_arcsec(entry["source"]["ra"], entry["source"]["dec"], *crossing["track"].at(HOURS[0])) < 0.3
    series = entry["diagnostics"]["Series"]
    given = crossing["positions"]
    rate = separation_arcsec(given[0]["ra"], given[0]["dec"], given[1]["ra"], given[1]["dec"]) / (7 * 60)
    assert series[0] == ("Target track: a straight line through the given positions, over 7.00 h, mean rate "
                         f"{rate:.3f} arcsec/min.")
    assert series[1].startswith("Track refined from the catalogues: 8 of 8 frames")


def test_t20_horizons_positions_place_the_target(tmp_path):
    table = horizons_answer.answer()
    stored = Table.read(horizons_answer.PATH, format="ascii.ecsv")  # the stored fixture is the generator's
    for column in ("datetime_jd", "RA", "DEC"):
        assert stored[column].tolist() == table[column].tolist() and stored[column].unit == table[column].unit
    rng = np.random.default_rng(20)
    fixture_track = horizons_answer.TRACK
    stars = scatter_stars(rng, ra=151.2, dec=12.4, count=24, x_range=(-40, 180), y_range=(-110, 110),
                          keep_clear_of_y=25)
    middle = fixture_track.at(horizons_answer.EPOCHS[4])
    frames = make_moving_series(tmp_path, stars, fixture_track, horizons_answer.EPOCHS, rng, tracking="sidereal",
                                pointing=middle, srctype="EXTRASOLAR", zero_point0=25.0, exptime=30.0)
    context = MemoryContext({frame.basename: frame.path for frame in frames}, tmp_path)
    context.horizons_provider = StoredHorizons({"2026 XY1": horizons_answer.PATH})
    [entry] = MovingTargetPhotometry({"input_files": items(frames), "target_designation": "2026 XY1",
                                      **RADII}).operate(context).output_data
    for row, ra, dec in zip(entry["light_curve"], table["RA"], table["DEC"], strict=True):
        assert separation_arcsec(row["target_ra"], row["target_dec"], ra, dec) <= 0.1
    assert [(p["ra"], p["dec"]) for p in entry["target_positions"]] == [(float(r), float(d)) for r, d in
                                                                        zip(table["RA"], table["DEC"], strict=True)]
    np.testing.assert_allclose([p["mjd"] + 2400000.5 for p in entry["target_positions"]], table["datetime_jd"],
                               rtol=0, atol=1e-7)
    assert entry["target_designation"] == "2026 XY1" and entry["source"]["name"] == "2026 XY1"


def test_horizons_answers_missing_a_frame_time_fail_with_a_sentence():
    table = horizons_answer.answer()
    with pytest.raises(OperationError) as failed:
        positions_from_answer(table, "2026 XY1", [2461345.5])
    assert str(failed.value) == ("JPL Horizons gave no position of '2026 XY1' at JD 2461345.500000 (UTC), the middle "
                                 "of one of the frames.")
    with pytest.raises(OperationError) as unknown:
        StoredHorizons({"2026 XY1": horizons_answer.PATH}).ephemeris("Nonesuch", None, [2461345.7])
    assert str(unknown.value) == "JPL Horizons could not resolve 'Nonesuch': no recorded answer for it."


@pytest.fixture
def silent_server():
    """A TCP server on loopback that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/horizons.api"
    stop.set()
    thread.join(timeout=2)
    for connection in held:
        connection.close()
    listener.close()


def test_an_unanswering_horizons_fails_within_its_deadline(settings, silent_server, tmp_path):
    from datalab.datalab_session.ephemerides import configured_horizons

    settings.HORIZONS_PROVIDER, settings.HORIZONS_URL, settings.HORIZONS_TIMEOUT_SECONDS = "live", silent_server, 2.0
    rng = np.random.default_rng(21)
    frames = make_moving_series(tmp_path, [], horizons_answer.TRACK, horizons_answer.EPOCHS[:3], rng,
                                tracking="sidereal", render=False, shape=(64, 64))
    context = MemoryContext({frame.basename: frame.path for frame in frames}, tmp_path)
    context.horizons_provider = configured_horizons()
    assert isinstance(context.horizons_provider, LiveHorizons)
    started = time.monotonic()
    with pytest.raises(OperationError) as failed:
        MovingTargetPhotometry({"input_files": items(frames), "target_designation": "2026 XY1", **RADII}).operate(
            context)
    elapsed = time.monotonic() - started
    assert str(failed.value) == ("JPL Horizons did not answer within 2 s, so the positions of '2026 XY1' are "
                                 "unknown. Retry later, or give the target's positions (target_positions).")
    assert 2.0 <= elapsed <= 3.0


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("DATALAB_NETWORK_TESTS") != "1", reason="needs the internet; set "
                                                                           "DATALAB_NETWORK_TESTS=1")
def test_live_horizons_answers_in_the_form_the_parser_reads():
    """Against the real service (opt-in: DATALAB_NETWORK_TESTS=1): Ceres from Siding Spring at two epochs."""
    epochs = [2461345.5, 2461345.6]
    answer = LiveHorizons(timeout_seconds=60).ephemeris("Ceres", Site(-31.2733, 149.0617, 1116.0), epochs)
    samples = positions_from_answer(answer, "Ceres", epochs)
    assert len(samples) == 2 and all(0 <= s.ra < 360 and -90 <= s.dec <= 90 for s in samples)
    assert 0 < separation_arcsec(samples[0].ra, samples[0].dec, samples[1].ra, samples[1].dec) < 3600


@pytest.mark.parametrize(("changes", "message"), [
    ({}, f"{NAME} needs 'target_designation' (Target Designation): the object's name or designation for JPL "
         "Horizons, or 'target_positions': two or more {mjd, ra, dec} positions."),
    ({"target_designation": "  "}, f"{NAME} needs 'target_designation' (Target Designation): the object's name or "
                                   "designation for JPL Horizons, or 'target_positions': two or more {mjd, ra, dec} "
                                   "positions."),
    ({"target_designation": "2026 XY1", "target_positions": []},
     f"{NAME}: give either 'target_designation' or 'target_positions', not both."),
    ({"target_positions": [{"mjd": 61345.2, "ra": 40.0, "dec": 30.0}]},
     f"{NAME}: 'target_positions' must be a list of at least 2 {{mjd, ra, dec}} positions."),
    ({"target_positions": [{"mjd": 61345.2, "ra": 40.0, "dec": 30.0}, {"mjd": 61345.3, "ra": "x", "dec": 30.0}]},
     f"{NAME}: target_positions item 2 needs numeric 'mjd' (UTC, exposure midpoint), 'ra' and 'dec' (degrees)."),
    ({"target_positions": [{"mjd": 61345.2, "ra": 40.0, "dec": 30.0}, {"mjd": 61345.3, "ra": 40.0, "dec": 91.0}]},
     f"{NAME}: target_positions item 2 has 'ra' outside 0..360 or 'dec' outside -90..90."),
    ({"target_positions": [{"mjd": 61345.2, "ra": 40.0, "dec": 30.0}, {"mjd": 61345.2, "ra": 40.1, "dec": 30.0}]},
     f"{NAME}: 'target_positions' must be at distinct times (mjd)."),
    ({"target_designation": "2026 XY1", "track_search_radius": 0},
     f"{NAME}: 'track_search_radius' must be more than 0 arcsec."),
    ({"target_designation": 433}, f"{NAME}: 'target_designation' must be a string."),
])
def test_bad_moving_target_inputs_are_refused(changes, message):
    data = {"input_files": [{"source": "archive", "basename": "a"}], **RADII, **changes}
    with pytest.raises(InputValidationError) as refused:
        MovingTargetPhotometry.validate_input_data(data)
    assert str(refused.value) == message


def test_the_cache_key_follows_the_target():
    base = {"input_files": [{"source": "archive", "basename": "a"}]}
    positions = [{"mjd": 61345.2, "ra": 40.0, "dec": 30.0}, {"mjd": 61345.3, "ra": 40.1, "dec": 30.0}]
    keys = {MovingTargetPhotometry.cache_key({**base, "target_designation": name}) for name in ("A", "B")}
    keys.add(MovingTargetPhotometry.cache_key({**base, "target_positions": positions}))
    keys.add(MovingTargetPhotometry.cache_key({**base, "target_positions": [positions[0], {**positions[1],
                                                                                           "dec": 30.1}]}))
    assert len(keys) == 4


def test_the_fixture_file_lives_with_the_tests():
    assert horizons_answer.PATH == Path(__file__).with_name("horizons_2026_XY1.ecsv") and horizons_answer.PATH.exists()


class DictCache(dict):
    """The two calls LiveHorizons makes of the service's cache."""

    def get(self, key, default=None):
        return super().get(key, default)

    def set(self, key, value, timeout=None):
        self[key] = value


def test_a_cached_answer_needs_no_service_and_a_failure_is_never_cached(silent_server):
    cache = DictCache()
    provider = LiveHorizons(timeout_seconds=1.0, url=silent_server, cache=cache)
    epochs = horizons_answer.EPOCHS
    with pytest.raises(OperationError):
        provider.ephemeris("2026 XY1", None, epochs)
    assert cache == {}
    text = io.StringIO()
    horizons_answer.answer().write(text, format="ascii.ecsv")
    cache[cache_key("2026 XY1", None, epochs)] = text.getvalue()
    started = time.monotonic()
    answer = provider.ephemeris("2026 XY1", None, epochs)
    assert time.monotonic() - started < 0.5
    assert [s.ra for s in positions_from_answer(answer, "2026 XY1", epochs)] == list(horizons_answer.answer()["RA"])
    # The key names the site and every epoch: another site or epoch list is another answer.
    assert cache_key("2026 XY1", Site(30.68, -104.02, 2070.0), epochs) != cache_key("2026 XY1", None, epochs)
    assert cache_key("2026 XY1", None, epochs[:-1]) != cache_key("2026 XY1", None, epochs)
