"""Outputs in S3, as production stores them: a Median over HTTP with a real worker writing to a real
S3 API on loopback (moto's server). Its signed links, fetched without the API token and
cross-origin, redirect to short-lived presigned S3 URLs that serve the files.
"""
from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests
from astropy.io import fits
from PIL import Image

from datalab.datalab_session.models import DataOperation
from tests.e2e.test_median_end_to_end import archive_pixels, http, run_median  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]
FRONT_END = "http://127.0.0.1:8081"


def signed_expiry(url: str) -> float:
    """When a presigned URL stops working, from its own query (SigV2 ``Expires`` or SigV4 date + seconds)."""
    query = parse_qs(urlsplit(url).query)
    if "Expires" in query:
        return float(query["Expires"][0])
    signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
    return signed_at + float(query["X-Amz-Expires"][0])


def test_median_outputs_in_s3_are_served_by_presigned_links(live_server, http, archive_frames,  # noqa: F811
                                                            start_worker, s3_outputs, owner):
    worker = start_worker(**s3_outputs.env)
    operation = run_median(http, live_server, archive_frames)
    assert operation["status"] == "COMPLETED", (operation["message"], worker.log()[-3000:])
    entry = operation["output"]["output_files"][0]
    basename = entry["basename"]
    assert s3_outputs.keys() == sorted(
        f"outputs/{owner.pk}/{basename}/{name}"
        for name in (f"{basename}.fits", f"{basename}-large.jpg", f"{basename}-small.jpg")
    )

    presigned = {}
    for field in ("fits_url", "large_url", "small_url"):
        redirect = requests.get(entry[field], headers={"Origin": FRONT_END}, allow_redirects=False, timeout=30)
        assert redirect.status_code == 302, (field, redirect.status_code, redirect.text[:200])
        assert redirect.headers["Access-Control-Allow-Origin"] == FRONT_END  # fetch() may follow it
        url = presigned[field] = redirect.headers["Location"]
        assert url.startswith(f"{s3_outputs.server.endpoint}/{s3_outputs.bucket}/outputs/"), url
        # The presigned link is valid for OUTPUT_REDIRECT_TTL_SECONDS from now, no longer.
        assert signed_expiry(url) == pytest.approx(time.time() + s3_outputs.presign_ttl_seconds, abs=30)
    fetched = requests.get(presigned["fits_url"], headers={"Origin": FRONT_END}, timeout=30)  # no API token
    assert fetched.status_code == 200
    assert fetched.headers["Access-Control-Allow-Origin"] in (FRONT_END, "*")
    with fits.open(io.BytesIO(fetched.content)) as hdul:
        median = hdul["SCI"].data
    expected = np.nanmedian(np.stack([archive_pixels(b) for b in archive_frames]), axis=0)
    np.testing.assert_allclose(median, expected, rtol=1e-6, atol=1e-6)
    preview = requests.get(entry["large_url"], headers={"Origin": FRONT_END}, timeout=30)  # redirect followed
    assert preview.status_code == 200 and preview.url.startswith(s3_outputs.server.endpoint)
    assert Image.open(io.BytesIO(preview.content)).format == "JPEG"

    # Without the presigned query the object is private.
    assert requests.get(presigned["fits_url"].split("?")[0], timeout=30).status_code == 403


    # Deleting the operation removes its objects from the bucket, and its links answer 404 at once.
    session_id = DataOperation.objects.get(pk=operation["id"]).session_id
    deleted = http.delete(f"{live_server.url}/api/datasessions/{session_id}/operations/{operation['id']}/")
    assert deleted.status_code == 204, deleted.text
    assert s3_outputs.keys() == []
    for field in ("fits_url", "large_url", "small_url"):
        gone = requests.get(entry[field], headers={"Origin": FRONT_END}, allow_redirects=False, timeout=30)
        assert gone.status_code == 404, (field, gone.status_code)
        assert gone.json() == {"error": gone.json()["error"]} and gone.json()["error"]
    assert requests.get(presigned["fits_url"], timeout=30).status_code == 404  # the object itself is gone
