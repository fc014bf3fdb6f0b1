"""Fuzzing the live API from its own OpenAPI schema: no server errors, every client error is {"error"}."""
from __future__ import annotations

import pytest
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
