"""Fuzzing the live API from its own OpenAPI schema: no server errors, every client error is {"error"}."""
from __future__ import annotations

import time

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fuzz]

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def auth_headers(owner, live_server, settings):
    settings.ARCHIVE_API = f"{live_server.url}/archive/"  # the embedded archive, answering at once
    settings.ARCHIVE_BACKOFF_SECONDS = 0.01
    token = Token.objects.create(user=owner).key
    return {"Authorization": f"Token {token}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_errors_and_speaks_error_json(case, live_server, auth_headers):
    response = case.call(base_url=live_server.url, headers=auth_headers, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, (case.method, case.formatted_path, body)
        assert isinstance(body["error"], str) and body["error"]


# Hostile inputs the generator does not think of, each sent through the schema's own operations.
DEEP_JSON = b"[" * 5000 + b"]" * 5000
BAD_BASENAMES = ["frame\x00name", "frame\ud800name", "../../etc/passwd", "a/b", "x" * 5000, ""]
BASENAME_ERROR = ("'basename' must be 1 to 200 letters, digits, '.', '_', '-' or '+', "
                  "starting with a letter or digit.")
HOSTILE_CASES = [
    *[(path, method, DEEP_JSON, "The request body is nested too deeply (more than 32 levels).") for path, method in [
        ("/api/datasessions/", "POST"), ("/api/auth/token/", "POST"), ("/api/analysis/{action}/", "POST"),
        ("/api/datasessions/{session_pk}/operations/", "POST"), ("/api/datasessions/{id}/", "PATCH"),
        ("/api/datasessions/{session_pk}/operations/bulk_delete/", "POST"),
    ]],
    *[("/api/analysis/{action}/", "POST", {"basename": bad, "source": "archive"}, f"headers: {BASENAME_ERROR}")
      for bad in BAD_BASENAMES[:-1]],
    *[("/api/datasessions/{session_pk}/operations/", "POST",
       {"name": "Median", "input_data": {"input_files": [{"source": "archive", "basename": bad},
                                                         {"source": "archive", "basename": "ok-frame"}]}},
       f"Median 'input_files': {BASENAME_ERROR}") for bad in BAD_BASENAMES],
    *[("/api/datasessions/", "POST", {"name": "hostile", "input_data": [{"source": "archive", "basename": bad}]},
       f"input_data: each item's {BASENAME_ERROR}") for bad in BAD_BASENAMES],
]


@pytest.fixture
def session_id(owner):
    from datalab.datalab_session.models import DataSession

    return DataSession.objects.create(user=owner, name="hostile").pk


@pytest.mark.parametrize(("path", "method", "body", "error"), HOSTILE_CASES,
                         ids=[f"{m} {p} {i}" for i, (p, m, _, _) in enumerate(HOSTILE_CASES)])
def test_hostile_input_is_a_400_with_a_sentence(path, method, body, error, live_server, auth_headers, session_id):
    operation = schema[path][method]
    parameters = {"action": "headers", "session_pk": session_id, "id": session_id}
    path_parameters = {k: v for k, v in parameters.items() if f"{{{k}}}" in path}
    started = time.monotonic()
    if isinstance(body, bytes):  # not JSON a client library would write: send the bytes as they are
        case = operation.Case(path_parameters=path_parameters)
        response = requests.request(method, f"{live_server.url}{case.formatted_path}", data=body, timeout=30,
                                    headers={**auth_headers, "Content-Type": "application/json"})
    else:
        case = operation.Case(path_parameters=path_parameters, body=body, media_type="application/json")
        response = case.call(base_url=live_server.url, headers=auth_headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error])
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert time.monotonic() - started < 5, "refused at once, without archive retries"


@pytest.mark.parametrize("query", [{"basename_exact": "a\x00b"}, {"search": "\x00"}, {"basename": "x\x00"}])
def test_nul_in_archive_queries_is_a_400(query, live_server, auth_headers):
    response = requests.get(f"{live_server.url}/archive/frames/", params=query, headers=auth_headers, timeout=30)
    assert (response.status_code, response.json()) == (400, {"error": "Query parameters must not contain NUL "
                                                                       "characters."})


def test_line_profile_with_huge_sizes_is_a_400(live_server, auth_headers, settings):
    from tests.e2e.conftest import make_archive_frames

    basename = make_archive_frames(settings, count=1)[0]
    body = {"basename": basename, "source": "archive", "x1": 0, "y1": 0, "x2": 1e308, "y2": 1e308,
            "width": 1e308, "height": 1e308}
    case = schema["/api/analysis/{action}/"]["POST"].Case(path_parameters={"action": "line-profile"}, body=body)
    response = case.call(base_url=live_server.url, headers=auth_headers, timeout=30)
    assert (response.status_code, response.json()) == (400, {"error": "line-profile: 'width' must be at most "
                                                                      "1e+06 in size."})
    body.update(width=100, height=100)
    response = requests.post(f"{live_server.url}/api/analysis/line-profile/", json=body, headers=auth_headers,
                             timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("line-profile: 'y2' must be at most 1e+06")


@pytest.mark.parametrize("key", ["method", "rejection", "sigma_low"])
def test_explicit_null_for_a_combine_input_means_its_default(key, live_server, auth_headers, session_id, settings):
    from datalab.datalab_session.models import DataOperation

    items = [{"source": "archive", "basename": f"tst1m001-fa01-20261101-000{n}-e91"} for n in (1, 2)]
    url = f"{live_server.url}/api/datasessions/{session_id}/operations/"
    with_null = requests.post(url, json={"name": "Combine", "input_data": {"input_files": items, key: None}},
                              headers=auth_headers, timeout=30)
    assert with_null.status_code == 201, with_null.text
    assert key not in with_null.json()["input_data"]
    without = requests.post(url, json={"name": "Combine", "input_data": {"input_files": items}},
                            headers=auth_headers, timeout=30)
    assert (without.status_code, without.json()["id"]) == (200, with_null.json()["id"])  # the same operation
    assert DataOperation.objects.get(pk=with_null.json()["id"]).input_data == {"input_files": items}
