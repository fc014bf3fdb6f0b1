"""Thumbnails by basename (the front end's thumbnailServiceUrl) and JSON 404s under /archive/."""
from __future__ import annotations

import io
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.visualization import ZScaleInterval
from PIL import Image

from datalab.local_archive.indexing import index_directory
from datalab.local_archive.synthetic import make_frame, write_frame
from tests.analysis.conftest import star_frame, store_output

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://localhost:8081"
PRIVATE_PROPOSAL = "LCO2026B-777"
OBSERVED = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)
ROWS, COLUMNS = 300, 400


@pytest.fixture(autouse=True)
def analysis_cache_dir(settings, tmp_path):
    settings.ANALYSIS_CACHE_DIR = tmp_path / "analysis_cache"


@pytest.fixture
def archive(live_server, settings):
    settings.ARCHIVE_API = f"{live_server.url}/archive/"
    settings.ARCHIVE_API_TOKEN = ""
    settings.ARCHIVE_TIMEOUT_SECONDS = 5
    settings.ARCHIVE_MAX_RETRIES = 0
    settings.PUBLIC_BASE_URL = live_server.url  # signed URLs name the live server, fetched without a token
    frames = {}
    for number, public_date in ((1, OBSERVED), (2, datetime.now(timezone.utc) + timedelta(days=200))):
        basename = f"tst1m001-fa01-20260105-{number:04d}-e91"
        hdul = make_frame(shape=(ROWS, COLUMNS), seed=number, n_stars=40, basename=basename,
                          observation_date=OBSERVED, public_date=public_date, proposal_id=PRIVATE_PROPOSAL)
        path = write_frame(hdul, settings.LOCAL_ARCHIVE_DIR / f"{basename}.fits.fz")
        with fits.open(path) as written:  # the pixels as stored (quantised by the compression)
            frames["public" if number == 1 else "private"] = (basename, np.asarray(written["SCI"].data, np.float64))
    index_directory()
    return frames


def expected_jpeg(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An independent rendering: block means onto ``shape``, zscale stretch, y up."""
    rows, columns = pixels.shape
    row_edges = np.linspace(0, rows, shape[0] + 1)
    column_edges = np.linspace(0, columns, shape[1] + 1)
    small = np.empty(shape)
    for i in range(shape[0]):
        for j in range(shape[1]):
            r0, r1 = int(row_edges[i]), max(int(row_edges[i]) + 1, int(np.ceil(row_edges[i + 1])))
            c0, c1 = int(column_edges[j]), max(int(column_edges[j]) + 1, int(np.ceil(column_edges[j + 1])))
            small[i, j] = pixels[r0:r1, c0:c1].mean()
    step = max(1, math.isqrt(pixels.size // 20_000))  # zscale of a regular grid of about 20,000 pixels
    grid = pixels[::step, ::step]
    low, high = ZScaleInterval(n_samples=grid.size).get_limits(grid)
    return np.clip((small - low) / (high - low) * 255.0, 0, 255)[::-1]


def fetch_image(url: str) -> tuple[requests.Response, np.ndarray]:
    response = requests.get(url, timeout=10, headers={"Origin": ORIGIN})  # no token
    return response, np.asarray(Image.open(io.BytesIO(response.content)).convert("L"), dtype=np.float64)


def test_archive_frame_thumbnail_is_a_signed_cors_jpeg_of_the_asked_size(archive, owner_api):
    basename, pixels = archive["public"]
    answer = owner_api.get(f"/thumbnails/{basename}/?width=200&height=200", HTTP_ORIGIN=ORIGIN)
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == ORIGIN
    assert int(answer["Content-Length"]) == len(answer.content)
    url = answer.json()["url"]
    response, image = fetch_image(url)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"  # for require-corp pages
    assert image.shape == (150, 200)  # 400x300 fitted in 200x200, aspect kept
    difference = np.abs(image - expected_jpeg(pixels, (150, 200)))
    assert np.median(difference) < 3.0 and np.mean(difference) < 4.0
    # Cached: the same size is not made again, a new size is made at its own size.
    assert owner_api.get(f"/thumbnails/{basename}/?width=200&height=200").status_code == 200
    large_url = owner_api.get(f"/thumbnails/{basename}/?width=1000&height=1000").json()["url"]
    assert fetch_image(large_url)[1].shape == (750, 1000)


def test_proprietary_frames_only_for_their_proposal(archive, owner, owner_api, stranger_api):
    basename, _ = archive["private"]
    response = stranger_api.get(f"/thumbnails/{basename}/?width=200&height=200")
    assert response.status_code == 404
    assert response.json() == {"error": f"The archive could not find frame {basename}, "
                                        "or it is not visible with your archive token."}
    owner.profile.archive_token = "ada-archive-token"
    owner.profile.archive_proposals = [PRIVATE_PROPOSAL]
    owner.profile.save()
    assert owner_api.get(f"/thumbnails/{basename}/?width=200&height=200").status_code == 200


def test_own_output_thumbnail_and_nobody_elses(archive, owner, owner_api, stranger_api, tmp_path):
    hdul = star_frame(shape=(96, 128))
    store_output(owner, hdul, "datalab-median-1-0-abcd", tmp_path)
    answer = owner_api.get("/thumbnails/datalab-median-1-0-abcd/?width=64&height=64")
    assert answer.status_code == 200
    response, image = fetch_image(answer.json()["url"])
    assert image.shape == (48, 64)
    difference = np.abs(image - expected_jpeg(np.asarray(hdul["SCI"].data, np.float64), (48, 64)))
    assert np.median(difference) < 3.0
    # The stranger has no output of that name: the same answer as for a name nobody has.
    for name in ("datalab-median-1-0-abcd", "datalab-median-9-0-ffff"):
        response = stranger_api.get(f"/thumbnails/{name}/?width=64&height=64")
        assert response.status_code == 404
        assert response.json() == {"error": f"Datalab output {name} was not found."}


def test_signed_url_is_required_for_the_jpeg(archive, owner_api):
    basename, _ = archive["public"]
    url = owner_api.get(f"/thumbnails/{basename}/?width=50&height=50").json()["url"]
    tampered = url.replace("-50x50", "-51x51")
    assert requests.get(tampered, timeout=10).status_code == 404
    assert requests.get(url.split("?")[0], timeout=10).status_code == 404


@pytest.mark.parametrize("query, message", [
    ("width=0&height=200", "width must be between 1 and 2048 pixels."),
    ("width=200&height=5000", "height must be between 1 and 2048 pixels."),
    ("width=abc&height=200", "width must be a whole number of pixels."),
])
def test_bad_sizes_are_400(archive, owner_api, query, message):
    basename, _ = archive["public"]
    response = owner_api.get(f"/thumbnails/{basename}/?{query}")
    assert response.status_code == 400 and response.json() == {"error": message}


def test_unknown_basename_and_no_token(archive, owner_api, client):
    response = owner_api.get("/thumbnails/nothing-like-this/?width=200&height=200")
    assert response.status_code == 404
    assert response.json()["error"].startswith("The archive could not find frame nothing-like-this")
    assert client.get("/thumbnails/nothing-like-this/").status_code == 401


@pytest.mark.parametrize("path", ["/archive/frames/undefined/headers/", "/archive/frames/undefined/",
                                  "/archive/nothing/here", "/archive/frames/12/headers/extra/"])
def test_unknown_archive_paths_are_json_404_even_under_debug(settings, client, path):
    settings.DEBUG = True
    response = client.get(path, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found."}
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_public_pseudo_proposal_lists_public_frames(archive, client):
    basename, _ = archive["public"]
    listed = client.get("/archive/frames/?proposal_id=public&include_thumbnails=true").json()
    assert [frame["basename"] for frame in listed["results"]] == [basename]
    assert client.get(f"/archive/frames/?proposal_id={PRIVATE_PROPOSAL}").json()["count"] == 1  # public one
