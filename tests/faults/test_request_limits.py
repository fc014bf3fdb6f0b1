"""Limits at the door: oversized bodies, absurd input counts and bad headers are clear 4xx errors."""
from __future__ import annotations

import json

import pytest

from datalab.datalab_session.models import DataOperation

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_url(owner_api) -> str:
    sid = owner_api.post("/api/datasessions/", {"name": "limits"}, format="json").json()["id"]
    return f"/api/datasessions/{sid}/operations/"


def test_ten_thousand_inputs_are_refused(owner_api, session_url):
    files = [{"source": "archive", "basename": f"frame-{i:05d}"} for i in range(10_000)]
    response = owner_api.post(session_url, {"name": "Median", "input_data": {"input_files": files}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "Median: 'input_files' accepts at most 999 file(s); got 10000."}
    assert not DataOperation.objects.exists()


def test_body_over_the_limit_is_413(owner_api, session_url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "Median", "input_data": {"pad": "x" * 2000}})
    response = owner_api.post(session_url, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"error": "The request body is larger than the limit of 1000 bytes."}


def test_non_numeric_content_length_is_400(owner_api, session_url):
    response = owner_api.generic("POST", session_url, b"{}", content_type="application/json",
                                 CONTENT_LENGTH="lots")
    assert response.status_code == 400
    assert response.json() == {"error": "The Content-Length header is not a number."}


def test_unknown_route_is_json_404(owner_api):
    response = owner_api.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}


@pytest.mark.parametrize("value", ["0492-03-07T00:39:36+19:32", "not-a-date"])
def test_out_of_range_filter_values_are_400(owner_api, value):
    response = owner_api.get("/api/datasessions/", {"created_after": value})
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
