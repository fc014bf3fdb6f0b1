"""The front end's calls (shared docs: api-contract.md), in the order it makes them, over HTTP
against a live server, a real worker and the demo sky: login, profile, archive browsing with
thumbnails, a session, a Median aligned by WCS, polling, outputs and their thumbnails, analysis,
chaining, refreshes and deletes. Every 2xx JSON answer carries a real Content-Length and CORS.
"""
from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS
from django.core.cache import cache
from django.core.management import call_command
from PIL import Image
from scipy.ndimage import maximum_filter

from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

ORIGIN = "http://localhost:8081"
PASSWORD = "pw-demo-12345"
OUTPUT_KEYS = {"basename", "source", "type", "fits_url", "large_url", "small_url"}


class FrontEnd:
    """Makes calls the way the front end's fetchApiCall does, and checks what every answer must carry."""

    def __init__(self, base: str):
        self.base = base
        self.api = f"{base}/api/"
        self.portal = f"{base}/portal/"
        self.archive = f"{base}/archive/"
        self.thumbnails = f"{base}/thumbnails/"
        self.token = ""

    def call(self, method: str, url: str, body=None, *, expect: int = 200):
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Origin": ORIGIN}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        response = requests.request(method, url, headers=headers, timeout=30,
                                    data=json.dumps(body) if body is not None else None, allow_redirects=False)
        assert response.status_code == expect, (method, url, response.status_code, response.text[:500])
        assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN, (method, url)
        if response.status_code != 204:
            assert response.headers["Content-Type"].startswith("application/json"), (method, url)
            assert int(response.headers["Content-Length"]) == len(response.content) > 0, (method, url)
            return response.json()
        return None

    def image(self, url: str) -> Image.Image:
        """An image URL fetched as the browser does: no token, CORS mode."""
        response = requests.get(url, headers={"Origin": ORIGIN}, timeout=30)
        assert response.status_code == 200, (url, response.status_code)
        assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN
        return Image.open(io.BytesIO(response.content))


DEMO_SKY = {"night": "2026-11-30", "size": 512}


@pytest.fixture(scope="session")
def demo_sky_files(tmp_path_factory) -> Path:
    """The demo sky's files, written once per run outside any archive (so not indexed)."""
    directory = tmp_path_factory.mktemp("demo-sky")
    call_command("generate_demo_frames", dir=directory, **DEMO_SKY, stdout=io.StringIO())
    return directory


@pytest.fixture
def demo_sky(live_server, settings, tmp_path, django_user_model, demo_sky_files):
    settings.ARCHIVE_API = f"{live_server.url}/archive/"
    settings.ANALYSIS_CACHE_DIR = tmp_path / "analysis_cache"
    settings.LOGIN_THROTTLE_RATE = "100/minute"
    cache.clear()
    # The command finds this test's copies of the files written and indexes them, as on a second run.
    shutil.copytree(demo_sky_files, settings.LOCAL_ARCHIVE_DIR, dirs_exist_ok=True)
    call_command("generate_demo_frames", **DEMO_SKY, stdout=io.StringIO())
    django_user_model.objects.create_user(username="demo", password=PASSWORD, first_name="Demo")
    return FrontEnd(live_server.url)


def log_in(ui: FrontEnd) -> dict:
    ui.token = ui.call("POST", f"{ui.portal}api-token-auth/", {"username": "demo", "password": PASSWORD})["token"]
    profile = ui.call("GET", f"{ui.portal}profile/")
    assert profile["username"] == "demo" and profile["proposals"] == []
    return profile


def browse_public_frames(ui: FrontEnd, target: str, filter_name: str) -> list[dict]:
    """The archive page of the "Public Images" pseudo-proposal, small thumbnails preloaded."""
    page = ui.call("GET", f"{ui.archive}frames/?reduction_level=91&start=2026-11-27T00:00:00.000Z"
                          f"&end=2026-12-01T00:00:00.000Z&proposal_id=public&include_thumbnails=true")
    frames = [frame for frame in page["results"]
              if frame["target_name"] == target and frame["primary_optical_element"] == filter_name]
    assert all(frame["proposal_id"] == "LCOEPO2026B-001" for frame in page["results"])
    small = next(thumbnail["url"] for thumbnail in frames[0]["thumbnails"] if thumbnail["size"] == "small")
    assert ui.image(small).format == "JPEG"
    return sorted(frames, key=lambda frame: frame["basename"])


def session_item(frame: dict) -> dict:
    return {"source": "archive", "basename": frame["basename"], "id": frame["id"], "url": frame["url"],
            "filter": frame["primary_optical_element"], "target_name": frame["target_name"],
            "observation_date": frame["observation_date"], "type": "fits"}


def wait_completed(ui: FrontEnd, session_id: int, operation_id: int) -> dict:
    url = f"{ui.api}datasessions/{session_id}/operations/{operation_id}/"
    done = wait_for(lambda: (body := ui.call("GET", url))["status"] in ("COMPLETED", "FAILED") and body,
                    timeout=180, interval=1.0)
    assert done["status"] == "COMPLETED", done["message"]
    return done


def star_shapes(image: np.ndarray, positions: list[tuple[float, float]], radius: int = 6):
    """(x, y, second-moment sigma, number of local maxima above half peak) of each star stamp."""
    shapes = []
    for x, y in positions:
        column, row = int(round(x)), int(round(y))
        stamp = np.asarray(image[row - radius:row + radius + 1, column - radius:column + radius + 1], np.float64)
        stamp = stamp - np.median(image[row - 3 * radius:row + 3 * radius, column - 3 * radius:column + 3 * radius])
        weights = np.clip(stamp, 0, None)
        rows, columns = np.mgrid[-radius:radius + 1, -radius:radius + 1]
        total = weights.sum()
        cx, cy = (weights * columns).sum() / total, (weights * rows).sum() / total
        sigma = np.sqrt((weights * ((columns - cx) ** 2 + (rows - cy) ** 2)).sum() / total / 2.0)
        peak = stamp.max()
        maxima = int(np.sum((stamp > peak / 2) & (stamp == maximum_filter(stamp, size=3, mode="nearest"))))
        shapes.append((column + cx, row + cy, sigma, maxima))
    return shapes


def test_the_front_ends_calls_in_order(demo_sky, start_worker):
    ui = demo_sky
    worker = start_worker()
    log_in(ui)
    frames = browse_public_frames(ui, "M51", "rp")
    assert len(frames) == 3
    items = [session_item(frame) for frame in frames]

    created = ui.call("POST", f"{ui.api}datasessions/", {"name": "M51 rp", "input_data": items}, expect=201)
    session_id = created["id"]
    listed = ui.call("GET", f"{ui.api}datasessions/")
    mine = next(session for session in listed["results"] if session["id"] == session_id)
    assert {"id", "name", "input_data", "operations", "accessed"} <= set(mine)
    assert ui.call("GET", f"{ui.api}datasessions/{session_id}/")["input_data"] == items

    # A fresh browser: input images have no thumbnail URL, so the thumbnail service is asked.
    for item in items:
        for side in (200, 1000):
            answer = ui.call("GET", f"{ui.thumbnails}{item['basename']}/?width={side}&height={side}")
            assert ui.image(answer["url"]).size == (side, side)
    headers = ui.call("GET", f"{ui.archive}frames/{items[0]['id']}/headers/")["data"]
    for chip in ("SITEID", "TELID", "INSTRUME", "DATE", "RA", "DEC", "OBJECT", "PROPID", "FILTER"):
        assert headers[chip] not in (None, ""), chip

    operations = ui.call("GET", f"{ui.api}available_operations/")
    assert {"name", "description", "inputs"} <= set(operations["Median"])
    body = {"name": "Median", "input_data": {"input_files": items, "align": "wcs"}}
    ui.call("POST", f"{ui.api}datasessions/{session_id}/operations/", body, expect=201)
    listed_operations = ui.call("GET", f"{ui.api}datasessions/{session_id}/operations/")["results"]
    operation = wait_completed(ui, session_id, listed_operations[0]["id"])
    assert operation["input_data"] == body["input_data"] and operation["operation_progress"] == 1.0
    (entry,) = operation["output"]["output_files"]
    assert OUTPUT_KEYS <= set(entry) and entry["source"] == "datalab" and entry["type"] == "fits"
    assert entry["filter"] == "rp"
    assert ui.image(entry["small_url"]).format == "JPEG" and ui.image(entry["large_url"]).format == "JPEG"

    # Stars of the WCS-aligned median are single and as round and sharp as in an input frame.
    fits_response = requests.get(entry["fits_url"], timeout=30)
    assert fits_response.status_code == 200
    with fits.open(io.BytesIO(fits_response.content)) as hdul:
        median, median_wcs = np.asarray(hdul["SCI"].data, np.float64), WCS(hdul["SCI"].header)
    input_path = next(demo_sky_dir(ui).glob(f"{items[0]['basename']}.fits*"))
    with fits.open(input_path) as hdul:
        first, catalog = np.asarray(hdul["SCI"].data, np.float64), hdul["CAT"].data
    def isolated(star) -> bool:
        return np.sort(np.hypot(catalog["x"] - star["x"], catalog["y"] - star["y"]))[1] > 12

    bright = [star for star in catalog if 1e4 < star["flux"] and not star["flag"] and isolated(star)]
    compared = 0
    for star in bright:
        x, y = median_wcs.all_world2pix(star["ra"], star["dec"], 0)
        if not (20 < x < median.shape[1] - 20 and 20 < y < median.shape[0] - 20):
            continue
        if not (20 < star["x"] - 1 < first.shape[1] - 20 and 20 < star["y"] - 1 < first.shape[0] - 20):
            continue
        column, row = int(round(float(x))), int(round(float(y)))
        if not np.all(np.isfinite(median[row - 18:row + 19, column - 18:column + 19])):
            continue  # outside the region every frame covers
        (mx, my, median_sigma, median_peaks), = star_shapes(median, [(float(x), float(y))])
        (_, _, input_sigma, input_peaks), = star_shapes(first, [(star["x"] - 1, star["y"] - 1)])
        assert median_peaks == input_peaks == 1, star
        assert abs(mx - x) < 0.5 and abs(my - y) < 0.5  # where the WCS says the star is
        assert median_sigma < 1.25 * input_sigma  # not smeared by misalignment
        compared += 1
    assert compared >= 3, worker.log()[-2000:]

    # The output's thumbnail by basename, headers of an output (undefined id), analysis of the output.
    answer = ui.call("GET", f"{ui.thumbnails}{entry['basename']}/?width=200&height=200")
    assert ui.image(answer["url"]).size[0] == 200
    ui.call("GET", f"{ui.archive}frames/undefined/headers/", expect=404)
    wcs = ui.call("POST", f"{ui.api}analysis/wcs/", {"basename": entry["basename"], "source": "datalab"})
    assert wcs["fits_dimensions"] == [median.shape[1], median.shape[0]]
    raw = ui.call("POST", f"{ui.api}analysis/raw-data/",
                  {"basename": entry["basename"], "source": "datalab", "max_size": 64})
    assert len(raw["data"]) == 64 * 64

    # Chaining: the output becomes an input of the session and of a later operation.
    output_item = {**entry, "operation": operation["id"]}
    patched = ui.call("PATCH", f"{ui.api}datasessions/{session_id}/",
                      {"name": "M51 rp", "input_data": items + [output_item]})
    assert patched["id"] == session_id
    normalised = {"name": "Normalization", "input_data": {"input_files": [output_item]}}
    ui.call("POST", f"{ui.api}datasessions/{session_id}/operations/", normalised, expect=201)
    second = ui.call("GET", f"{ui.api}datasessions/{session_id}/operations/")["results"]
    assert [op["name"] for op in second] == ["Median", "Normalization"]  # creation order
    wait_completed(ui, session_id, second[1]["id"])

    assert ui.call("POST", f"{ui.api}datasessions/{session_id}/operations/bulk_delete/",
                   {"ids": [second[1]["id"]]}) == {"deleted": 1}
    ui.call("DELETE", f"{ui.api}datasessions/{session_id}/operations/{operation['id']}/", expect=204)
    ui.call("DELETE", f"{ui.api}datasessions/{session_id}", expect=204)
    ui.call("GET", f"{ui.api}datasessions/{session_id}/", expect=404)


def demo_sky_dir(ui: FrontEnd):
    from django.conf import settings

    return settings.LOCAL_ARCHIVE_DIR


def test_two_consecutive_refreshes_show_identical_outputs(demo_sky, start_worker):
    """The front end adds an output unless a deep-equal one is shown: a refresh must not change them."""
    ui = demo_sky
    start_worker()
    log_in(ui)
    items = [session_item(frame) for frame in browse_public_frames(ui, "M51", "V")]
    session_id = ui.call("POST", f"{ui.api}datasessions/", {"name": "refresh", "input_data": items},
                         expect=201)["id"]
    body = {"name": "Median", "input_data": {"input_files": items, "align": "wcs"}}
    operation_id = ui.call("POST", f"{ui.api}datasessions/{session_id}/operations/", body, expect=201)["id"]
    wait_completed(ui, session_id, operation_id)
    url = f"{ui.api}datasessions/{session_id}/operations/"
    headers = {"Authorization": f"Token {ui.token}", "Accept": "application/json"}
    first = requests.get(url, headers=headers, timeout=30)
    time.sleep(1.5)  # the front end polls every 5 s: signatures made a second later must not differ
    second = requests.get(url, headers=headers, timeout=30)
    assert first.status_code == second.status_code == 200
    assert [op["output"] for op in first.json()["results"]] == [op["output"] for op in second.json()["results"]]
    assert first.content == second.content  # byte-identical refreshes
