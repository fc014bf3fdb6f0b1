"""API clients get JSON errors in every mode: with DEBUG on, Django's debug pages never reach them."""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from datalab.datalab_session import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_client(settings, owner) -> Client:
    settings.DEBUG = True
    token = Token.objects.create(user=owner)
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.mark.parametrize("path", ["/api/no-such-thing/", "/archive/no-such-thing/", "/outputs/x/y/z/",
                                  "/api/datasessions/999999999999999999999/"])
def test_unknown_urls_are_json_404_with_debug_on(debug_client, path):
    response = debug_client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found."}


def test_an_unhandled_exception_is_a_json_500_without_the_environment(debug_client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("DATABASE_URL=postgres://secret@db/prod")

    monkeypatch.setattr(selectors, "sessions_for", broken)
    response = debug_client.get("/api/datasessions/", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Internal server error; the failure has been logged."}
    assert b"secret" not in response.content


def test_pages_outside_the_api_keep_their_html(debug_client):
    assert debug_client.get("/admin/login/")["Content-Type"].startswith("text/html")
