"""The analysis actions over the API on the owner's own outputs, against independent computations."""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.visualization import ZScaleInterval
from conftest import STAR_COLUMN, STAR_ROW, post, star_frame, store_output
from PIL import Image
from rest_framework.test import APIClient

from datalab.analysis import products
from datalab.local_archive.synthetic import make_frame

pytestmark = pytest.mark.django_db

ROWS, COLUMNS = 96, 128
WIDTH, HEIGHT = 2 * COLUMNS, 2 * ROWS  # the viewer shows the frame at twice its size


def display(column: float, row: float) -> tuple[float, float]:
    return (column + 0.5) * WIDTH / COLUMNS, (row + 0.5) * HEIGHT / ROWS


def fits_position(x: float, y: float) -> tuple[float, float]:
    return x * COLUMNS / WIDTH - 0.5, y * ROWS / HEIGHT - 0.5


def body(basename: str, **extra) -> dict:
    return {"basename": basename, "source": "datalab", **extra}


# --- raw-data --------------------------------------------------------------------------------------
def test_raw_data_is_the_block_average_top_row_first(owner_api, star_output):
    basename, data, _ = star_output
    response = post(owner_api, "raw-data", body(basename, max_size=32))
    assert response.status_code == 200
    assert int(response["Content-Length"]) == len(response.content)
    answer = response.json()
    expected = data.astype(np.float64).reshape(32, 3, 32, 4).mean(axis=(1, 3))[::-1]
    np.testing.assert_allclose(np.array(answer["data"]).reshape(32, 32), expected, atol=0.006)
    low, high = ZScaleInterval(n_samples=data.size).get_limits(data[np.isfinite(data)])
    assert (answer["zmin"], answer["zmax"]) == pytest.approx((low, high))
    assert len(answer["histogram"]) == len(answer["bins"]) == 100
    assert sum(answer["histogram"]) <= 32 * 32 and answer["bins"] == sorted(answer["bins"])
    assert answer["bitdepth"] == 16


def test_raw_data_nan_block_is_null_and_repeats_come_from_the_cache(owner, owner_api, tmp_path, monkeypatch):
    hdul = star_frame()
    hdul["SCI"].data[:3, :4] = np.nan  # the bottom-left output cell has no finite pixel
    store_output(owner, hdul, "datalab-nan", tmp_path)
    first = post(owner_api, "raw-data", body("datalab-nan", max_size=32)).json()
    click = body("datalab-nan", x=10, y=10, width=WIDTH, height=HEIGHT)
    first_centroid = post(owner_api, "centroiding", click).json()
    assert first["data"][31 * 32] is None  # bottom row is last; its first value is the NaN cell
    assert all(value is not None for value in first["data"][: 31 * 32])

    def no_fits(*args, **kwargs):
        raise AssertionError("the frame was opened again")

    monkeypatch.setattr(products.fits, "open", no_fits)
    assert post(owner_api, "raw-data", body("datalab-nan", max_size=32)).json() == first
    assert post(owner_api, "centroiding", click).json() == first_centroid


# --- wcs and headers -----------------------------------------------------------------------------------
def test_wcs_round_trips_the_header(owner_api, star_output):
    basename, _, header = star_output
    answer = post(owner_api, "wcs", body(basename)).json()
    assert answer == {
        "crval": pytest.approx([header["CRVAL1"], header["CRVAL2"]], rel=1e-12),
        "crpix": [header["CRPIX1"], header["CRPIX2"]],
        "cd1": pytest.approx([header["CD1_1"], header["CD1_2"]], rel=1e-12),
        "cd2": pytest.approx([header["CD2_1"], header["CD2_2"]], rel=1e-12),
        "fits_dimensions": [COLUMNS, ROWS],
    }


def test_wcs_of_a_frame_without_one_is_a_400(owner, owner_api, tmp_path):
    bare = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((8, 8), np.float32), name="SCI")])
    store_output(owner, bare, "datalab-bare", tmp_path)
    response = post(owner_api, "wcs", body("datalab-bare"))
    assert response.status_code == 400
    assert response.json() == {"error": "Frame datalab-bare has no celestial WCS in its header."}


def test_headers_returns_the_sci_header(owner_api, star_output):
    basename, _, header = star_output
    data = post(owner_api, "headers", body(basename)).json()["data"]
    assert data["FILTER"] == header["FILTER"] and data["OBJECT"] == header["OBJECT"]
    assert data["NAXIS1"] == COLUMNS and data["EXPTIME"] == header["EXPTIME"]


# --- line-profile ------------------------------------------------------------------------------------
def test_line_profile_across_the_star_peaks_on_it(owner_api, star_output):
    basename, data, header = star_output
    left, right = display(10.0, STAR_ROW), display(70.0, STAR_ROW)
    # x is the vertical coordinate and y the horizontal one in this action's body.
    answer = post(owner_api, "line-profile", body(basename, x1=left[1], y1=left[0], x2=right[1], y2=right[0],
                                                   width=WIDTH, height=HEIGHT)).json()
    profile = np.array(answer["line_profile"])
    assert len(profile) == 61
    assert int(np.argmax(profile)) == round(STAR_COLUMN) - 10
    fraction = STAR_ROW - math.floor(STAR_ROW)
    expected = (1 - fraction) * data[70, 10:71] + fraction * data[71, 10:71]
    np.testing.assert_allclose(profile, expected, rtol=1e-5)
    assert answer["arcsec"] == pytest.approx(60 * header["PIXSCALE"], rel=1e-3)
    assert answer["position_angle"] == pytest.approx(270.0, abs=0.01)  # east is left: going right is west
    assert len(answer["start_coords"]) == 2 and len(answer["end_coords"]) == 2


# --- centroiding -------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"use_plane_background": True, "remove_background_stars": True}])
def test_centroiding_finds_the_star_within_a_tenth_of_a_pixel(owner_api, star_output, options):
    basename, _, _ = star_output
    click_x, click_y = display(STAR_COLUMN + 2.2, STAR_ROW - 1.7)
    answer = post(owner_api, "centroiding", body(
        basename, x=click_x, y=click_y, width=WIDTH, height=HEIGHT, radius=6, r_back1=9, r_back2=16,
        find_centroid=True, **options)).json()
    assert answer["success"] is True
    column, row = fits_position(answer["x"], answer["y"])
    assert math.hypot(column - STAR_COLUMN, row - STAR_ROW) < 0.1
    assert answer["background"] == pytest.approx(200.0, abs=15.0)
    assert answer["peak"] > 1000.0 and answer["ra"] is not None and answer["dec"] is not None


def test_centroiding_on_empty_sky_says_no_star(owner_api, star_output):
    basename, _, _ = star_output
    x, y = display(100.0, 20.0)
    answer = post(owner_api, "centroiding", body(basename, x=x, y=y, width=WIDTH, height=HEIGHT, radius=5,
                                                  r_back1=8, r_back2=14)).json()
    assert answer == {"success": False, "error": "No star found within 5 pixels of the position.",
                      "message": "No star found within 5 pixels of the position."}


# --- source-catalog ----------------------------------------------------------------------------------
def test_source_catalog_positions_match_the_cat_table(owner, owner_api, tmp_path):
    hdul = make_frame(shape=(ROWS, COLUMNS), n_stars=15, seed=11)
    store_output(owner, hdul, "datalab-cat", tmp_path)
    answer = post(owner_api, "source-catalog", body("datalab-cat", width=WIDTH, height=HEIGHT)).json()
    table = hdul["CAT"].data
    order = np.argsort(-table["flux"], kind="stable")
    assert len(answer) == 15
    np.testing.assert_allclose([s["x_win"] for s in answer], (table["xwin"][order] - 0.5) * WIDTH / COLUMNS)
    np.testing.assert_allclose([s["y_win"] for s in answer], (table["ywin"][order] - 0.5) * HEIGHT / ROWS)
    np.testing.assert_allclose([s["ra"] for s in answer], table["ra"][order])
    np.testing.assert_allclose([s["mag"] for s in answer], table["mag"][order], rtol=1e-6)
    assert not any(s["flux_fallback"] for s in answer)


def test_source_catalog_detects_stars_when_there_is_no_cat(owner, owner_api, tmp_path):
    store_output(owner, star_frame(with_catalog=False), "datalab-nocat", tmp_path)
    answer = post(owner_api, "source-catalog", body("datalab-nocat", width=WIDTH, height=HEIGHT)).json()
    assert len(answer) == 1
    column, row = fits_position(answer[0]["x_win"], answer[0]["y_win"])
    assert math.hypot(column - STAR_COLUMN, row - STAR_ROW) < 0.2
    assert answer[0]["mag"] is None and answer[0]["flux_fallback"] is True


# --- images ------------------------------------------------------------------------------------------
def test_get_jpg_is_the_full_frame_stretched_top_row_first(owner_api, star_output):
    basename, data, _ = star_output
    answer = post(owner_api, "get-jpg", body(basename, zmin=150, zmax=400)).json()
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["jpg_base64"]))), dtype=np.float64)
    assert image.shape == (ROWS, COLUMNS)
    expected = np.clip((data.astype(np.float64) - 150) * 255 / 250, 0, 255)[::-1]
    # JPEG is lossy on noise, but a wrong flip or stretch is far further off.
    assert np.abs(image - expected).mean() < 5.0 < 10.0 < np.abs(image - expected[::-1]).mean()
    assert image[ROWS - 1 - round(STAR_ROW), round(STAR_COLUMN)] >= 250  # the saturated star, top row first


def test_get_tif_url_works_without_the_token_and_is_made_once(owner_api, star_output):
    basename, data, _ = star_output
    first = post(owner_api, "get-tif", body(basename)).json()["tif_url"]
    second = post(owner_api, "get-tif", body(basename)).json()["tif_url"]
    assert first.split("?")[0] == second.split("?")[0]
    response = APIClient().get(first)
    assert response.status_code == 200 and response["Content-Type"] == "image/tiff"
    tiff = np.asarray(Image.open(io.BytesIO(b"".join(response.streaming_content))))
    np.testing.assert_array_equal(tiff, data[::-1])
    assert APIClient().get(first.split("?")[0] + "?sig=forged").status_code == 404


# --- bad input and scoping -----------------------------------------------------------------------------
@pytest.mark.parametrize("action, extra, message", [
    ("raw-data", {"max_size": 4096}, "raw-data: 'max_size' must be between 1 and 2048; got 4096."),
    ("raw-data", {"max_size": 0}, "raw-data: 'max_size' must be between 1 and 2048; got 0."),
    ("raw-data", {"max_size": 10.5}, "raw-data: 'max_size' must be a whole number."),
    ("raw-data", {}, "raw-data needs 'max_size'."),
    ("centroiding", {"y": 5, "width": WIDTH, "height": HEIGHT}, "centroiding needs 'x'."),
    ("centroiding", {"x": "left", "y": 5, "width": WIDTH, "height": HEIGHT}, "centroiding: 'x' must be a number."),
    ("centroiding", {"x": 5, "y": 5, "width": WIDTH, "height": HEIGHT, "radius": 10, "r_back1": 8},
     "centroiding: radii must satisfy radius <= r_back1 < r_back2 <= 500; got 10, 8, 18."),
    ("centroiding", {"x": 5, "y": 5, "width": WIDTH, "height": HEIGHT, "find_centroid": "maybe"},
     "centroiding: 'find_centroid' must be true or false."),
    ("source-catalog", {"width": 0, "height": HEIGHT}, "source-catalog: 'width' must be greater than 0."),
    ("line-profile", {"x1": 10, "y1": 10, "x2": HEIGHT + 1, "y2": 20, "width": WIDTH, "height": HEIGHT},
     f"line-profile: point (x2, y2) = (20, {HEIGHT + 1}) is outside the displayed image of {WIDTH} x {HEIGHT} pixels."),
    ("centroiding", {"x": -1, "y": 5, "width": WIDTH, "height": HEIGHT},
     f"centroiding: point (x, y) = (-1, 5) is outside the displayed image of {WIDTH} x {HEIGHT} pixels."),
    ("get-jpg", {"zmin": 5, "zmax": 5}, "get-jpg: 'zmax' must be greater than 'zmin'."),
    ("wcs", {"source": "s3"}, "wcs: 'source' must be 'archive' or 'datalab'."),
])
def test_bad_input_is_a_400_with_a_sentence(owner_api, star_output, action, extra, message):
    basename, _, _ = star_output
    response = post(owner_api, action, {**body(basename), **extra})
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_missing_basename_and_non_object_body(owner_api):
    response = post(owner_api, "wcs", {"source": "datalab"})
    assert (response.status_code, response.json()) == (400, {"error": "wcs needs 'basename'."})
    response = post(owner_api, "wcs", ["not", "an", "object"])
    assert (response.status_code, response.json()) == (400, {"error": "The request body must be a JSON object."})


def test_unknown_action_is_a_400_listing_the_actions(owner_api, star_output):
    response = post(owner_api, "histogram", body(star_output[0]))
    assert response.status_code == 400
    assert response.json() == {"error": "Unknown analysis action 'histogram'. Available: centroiding, get-jpg, "
                                        "get-tif, headers, line-profile, raw-data, source-catalog, wcs."}


def test_stranger_gets_404_for_another_users_output(stranger_api, star_output):
    basename, _, _ = star_output
    for action, extra in (("wcs", {}), ("raw-data", {"max_size": 8}), ("headers", {})):
        response = post(stranger_api, action, body(basename, **extra))
        assert response.status_code == 404
        assert response.json() == {"error": f"Datalab output {basename} was not found."}


def test_anonymous_caller_is_refused(star_output):
    response = post(APIClient(), "wcs", body(star_output[0]))
    assert response.status_code == 401
