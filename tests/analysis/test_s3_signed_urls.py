"""Analysis on outputs stored in S3 (a real S3 API on loopback): the frame is read from the bucket,
and get-tif's link redirects, without the API token, to a presigned URL of the TIFF in the bucket."""
from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from PIL import Image
from rest_framework.test import APIClient

from tests.analysis.conftest import post, star_frame, store_output

pytestmark = pytest.mark.django_db


def test_get_tif_on_s3_is_a_presigned_link(owner, owner_api, s3_outputs, tmp_path):
    hdul = star_frame()
    store_output(owner, hdul, "datalab-s3-star", tmp_path)
    assert s3_outputs.keys() == [f"outputs/{owner.pk}/datalab-s3-star.fits"]
    answer = post(owner_api, "get-tif", {"basename": "datalab-s3-star", "source": "datalab"})
    assert answer.status_code == 200, answer.json()
    redirect = APIClient().get(answer.json()["tif_url"], HTTP_ORIGIN="http://127.0.0.1:8081")  # no API token
    assert redirect.status_code == 302
    assert redirect["Access-Control-Allow-Origin"] == "http://127.0.0.1:8081"
    url = redirect["Location"]
    assert url.startswith(f"{s3_outputs.server.endpoint}/{s3_outputs.bucket}/analysis/") and "?" in url
    fetched = requests.get(url, headers={"Origin": "http://127.0.0.1:8081"}, timeout=30)
    assert fetched.status_code == 200
    assert fetched.headers["Access-Control-Allow-Origin"] in ("http://127.0.0.1:8081", "*")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(fetched.content))), hdul["SCI"].data[::-1])
    assert requests.get(url.split("?")[0], timeout=30).status_code == 403
