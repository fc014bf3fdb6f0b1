"""A scientist's whole path over HTTP: session, Median, real worker, output checked by pixels."""
from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from astropy.io import fits
from django.conf import settings
from PIL import Image
from rest_framework.authtoken.models import Token

from tests.e2e.conftest import drop_broker_messages, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def archive_pixels(basename: str) -> np.ndarray:
    path = next(settings.LOCAL_ARCHIVE_DIR.rglob(f"{basename}.fits*"))
    with fits.open(path) as hdul:
        return hdul["SCI"].data.astype(np.float32)


@pytest.fixture
def http(live_server, owner):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=owner).key}"
    return session


def run_median(http, live_server, basenames) -> dict:
    api = f"{live_server.url}/api"
    items = [{"type": "fitsfile", "source": "archive", "basename": b} for b in basenames]
    session = http.post(f"{api}/datasessions/", json={"name": "e2e", "input_data": items})
    assert session.status_code == 201, session.text
    sid = session.json()["id"]
    body = {"name": "Median", "input_data": {"input_files": items}}
    created = http.post(f"{api}/datasessions/{sid}/operations/", json=body)
    assert created.status_code == 201, created.text
    url = f"{api}/datasessions/{sid}/operations/{created.json()['id']}/"

    def finished():
        body = http.get(url).json()
        return body if body["status"] in ("COMPLETED", "FAILED") else None

    return wait_for(finished, timeout=120)


def test_median_over_http_matches_numpy(live_server, http, archive_frames, start_worker):
    worker = start_worker()
    operation = run_median(http, live_server, archive_frames)
    assert operation["status"] == "COMPLETED", (operation["message"], worker.log()[-3000:])
    assert operation["operation_progress"] == 1.0
    entry = operation["output"]["output_files"][0]
    assert entry["source"] == "datalab" and entry["type"] == "fits"
    assert entry["filter"] == "rp"

    fits_bytes = requests.get(entry["fits_url"], timeout=10)  # no token: the URL is signed
    assert fits_bytes.status_code == 200
    with fits.open(io.BytesIO(fits_bytes.content)) as hdul:
        median_image = hdul["SCI"].data
        header = hdul["SCI"].header
    expected = np.nanmedian(np.stack([archive_pixels(b) for b in archive_frames]), axis=0)
    np.testing.assert_allclose(median_image, expected, rtol=1e-6, atol=1e-6)
    assert header["DLOPER"] == "Median"

    large = requests.get(entry["large_url"], timeout=10)
    assert large.status_code == 200
    assert Image.open(io.BytesIO(large.content)).format == "JPEG"
    tampered = entry["small_url"].replace("sig=", "sig=0")
    assert requests.get(tampered, timeout=10).status_code == 404
    assert not any((settings.OPERATION_TEMP_DIR).glob("op*")), "temp files left behind"


def test_flushed_broker_loses_no_operation(live_server, http, archive_frames, start_worker, redis_client):
    # No worker yet: the message sits in Redis, then Redis is flushed before anyone consumes it.
    api = f"{live_server.url}/api"
    items = [{"source": "archive", "basename": b} for b in archive_frames]
    sid = http.post(f"{api}/datasessions/", json={"name": "flush", "input_data": items}).json()["id"]
    body = {"name": "Median", "input_data": {"input_files": items}}
    op = http.post(f"{api}/datasessions/{sid}/operations/", json=body)
    assert op.status_code == 201
    assert drop_broker_messages(redis_client) >= 1
    assert http.get(f"{api}/datasessions/{sid}/operations/{op.json()['id']}/").json()["status"] == "PENDING"

    worker = start_worker(OPERATION_STALE_SECONDS="1", OPERATION_SWEEP_SECONDS="1")
    url = f"{api}/datasessions/{sid}/operations/{op.json()['id']}/"
    done = wait_for(lambda: (b := http.get(url).json())["status"] in ("COMPLETED", "FAILED") and b, timeout=120)
    assert done["status"] == "COMPLETED", (done["message"], worker.log()[-3000:])
