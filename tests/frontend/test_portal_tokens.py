"""Tokens issued by the observatory's portal, checked against a portal stand-in on loopback."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PORTAL_TOKEN = "7c0ffee7c0ffee7c0ffee7c0ffee7c0ffee7c0ff"
PORTAL_ANSWER = {
    "username": "grace", "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.org",
    "proposals": [{"id": "LCO2026B-012", "title": "Clusters", "current": True},
                  {"id": "KEY2025A-001", "title": "Old", "current": False}],
    "tokens": {"archive": "ignored", "api_token": PORTAL_TOKEN},
}


class PortalStandIn(BaseHTTPRequestHandler):
    """``GET /api/profile/``: the profile for known tokens, 401 otherwise; ``mode`` simulates outages."""

    tokens: dict[str, dict] = {}
    mode = "up"  # "up", "error" (HTTP 500), "hang" (answers after 2 s)
    calls: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).calls.append(self.headers.get("Authorization", ""))
        if self.mode == "hang":
            time.sleep(2.0)
        if self.mode == "error":
            return self._answer(500, {"detail": "boom"})
        if self.path != "/api/profile/":
            return self._answer(404, {"detail": "Not found."})
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        answer = self.tokens.get(token) if scheme == "Token" else None
        if answer is None:
            return self._answer(401, {"detail": "Invalid token."})
        return self._answer(200, answer)

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def portal(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), PortalStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    PortalStandIn.tokens = {PORTAL_TOKEN: PORTAL_ANSWER}
    PortalStandIn.mode = "up"
    PortalStandIn.calls = []
    settings.PORTAL_API_URL = f"http://127.0.0.1:{server.server_address[1]}/api/"
    settings.PORTAL_TIMEOUT_SECONDS = 0.5
    cache.clear()
    yield PortalStandIn
    server.shutdown()
    server.server_close()
    cache.clear()


def get_sessions(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/datasessions/")


def test_a_portal_token_creates_the_user_with_it_as_archive_token(portal):
    response = get_sessions(PORTAL_TOKEN)
    assert response.status_code == 200 and response.json()["results"] == []
    user = get_user_model().objects.get(username="grace")
    assert (user.first_name, user.last_name, user.email) == ("Grace", "Hopper", "grace@example.org")
    assert not user.has_usable_password()
    assert user.profile.archive_token == PORTAL_TOKEN
    assert user.profile.archive_proposals == ["KEY2025A-001", "LCO2026B-012"]
    assert portal.calls == [f"Token {PORTAL_TOKEN}"]
    for _ in range(5):  # checked once: later requests do not ask the portal
        assert get_sessions(PORTAL_TOKEN).status_code == 200
    assert len(portal.calls) == 1


def test_the_profile_is_refreshed_from_the_portal_after_the_recheck_interval(portal, settings):
    assert get_sessions(PORTAL_TOKEN).status_code == 200
    cache.clear()  # the recheck interval has passed
    portal.tokens = {PORTAL_TOKEN: {**PORTAL_ANSWER, "email": "hopper@example.org", "proposals": []}}
    assert get_sessions(PORTAL_TOKEN).status_code == 200
    user = get_user_model().objects.get(username="grace")
    assert user.email == "hopper@example.org" and user.profile.archive_proposals == []
    assert get_user_model().objects.filter(username="grace").count() == 1


def test_unknown_tokens_get_401_quickly_and_are_not_asked_again(portal):
    started = time.monotonic()
    for _ in range(5):
        response = get_sessions("f" * 40)
        assert response.status_code == 401
        assert response.json() == {"error": "Invalid token."}
    assert time.monotonic() - started < 2.0
    assert len(portal.calls) == 1  # the refusal is remembered
    assert not get_user_model().objects.filter(username="grace").exists()


def test_a_token_revoked_at_the_portal_stops_working_here(portal):
    assert get_sessions(PORTAL_TOKEN).status_code == 200
    portal.tokens = {}
    cache.clear()  # the recheck interval has passed
    assert get_sessions(PORTAL_TOKEN).status_code == 401
    assert get_user_model().objects.get(username="grace").profile.archive_token == ""


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_an_outage_gives_503_to_unknown_tokens_and_keeps_known_users_working(portal, mode):
    assert get_sessions(PORTAL_TOKEN).status_code == 200  # known before the outage
    cache.clear()  # its recheck is due
    portal.mode = mode
    started = time.monotonic()
    assert get_sessions(PORTAL_TOKEN).status_code == 200  # never locked out
    response = get_sessions("e" * 40)
    assert response.status_code == 503
    assert response.json() == {"error": "The observation portal cannot be reached to check this token; "
                                        "try again shortly."}
    for _ in range(5):  # no retry storm: the outage is remembered for a while
        assert get_sessions("d" * 40).status_code == 503
    assert time.monotonic() - started < 3.0
    assert len(portal.calls) == 2


def test_a_portal_account_cannot_take_over_a_local_account(portal, django_user_model):
    django_user_model.objects.create_user(username="grace", password="local-password-123")
    response = get_sessions(PORTAL_TOKEN)
    assert response.status_code == 401
    assert response.json() == {"error": "This portal account's username belongs to a local account of this service."}


def test_without_a_portal_url_only_local_tokens_work(portal, settings, owner_api):
    settings.PORTAL_API_URL = ""
    assert get_sessions(PORTAL_TOKEN).status_code == 401
    assert owner_api.get("/api/datasessions/").status_code == 200
    assert portal.calls == []


def test_portal_users_see_their_proprietary_archive_frames(portal):
    from datalab.local_archive.access import proposals_for_token

    assert get_sessions(PORTAL_TOKEN).status_code == 200
    assert proposals_for_token(PORTAL_TOKEN) == ["KEY2025A-001", "LCO2026B-012"]
