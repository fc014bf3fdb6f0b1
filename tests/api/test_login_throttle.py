"""Password guessing is throttled on every login: the API token endpoint, the admin and the browsable API."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def assert_throttled(response) -> None:
    """429 with the wait (at most the minute of the rate) in the sentence and in Retry-After."""
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert 1 <= seconds <= 60
    assert response.json() == {"error": f"Too many login attempts; try again in {seconds} s."}


@pytest.fixture
def three_a_minute(settings):
    settings.LOGIN_THROTTLE_RATE = "3/minute"


def test_token_endpoint_answers_429_after_the_rate(three_a_minute, owner):
    client = APIClient()
    wrong = [client.post("/api/auth/token/", {"username": "ada", "password": "guess"}, format="json")
             for _ in range(3)]
    assert [r.status_code for r in wrong] == [400, 400, 400]
    refused = client.post("/api/auth/token/", {"username": "ada", "password": "pw-ada-12345"}, format="json")
    assert refused.status_code == 429
    assert_throttled(refused)
    # Another address has its own allowance.
    other = APIClient(REMOTE_ADDR="10.1.2.3")
    assert other.post("/api/auth/token/", {"username": "ada", "password": "pw-ada-12345"},
                      format="json").status_code == 200


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
def test_form_logins_answer_429_after_the_rate(three_a_minute, client, owner, path):
    for _ in range(3):
        assert client.post(path, {"username": "ada", "password": "guess"}).status_code == 200  # form again
    refused = client.post(path, {"username": "ada", "password": "pw-ada-12345"})
    assert refused.status_code == 429
    assert_throttled(refused)
    assert client.get(path).status_code == 200  # looking at the form is not an attempt
