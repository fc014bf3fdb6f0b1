"""The portal-compatible login the front end uses: ``api-token-auth/`` then ``profile/``, with CORS."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from datalab.portal.views import BAD_CREDENTIALS

pytestmark = pytest.mark.django_db

ORIGIN = "http://localhost:8081"


@pytest.fixture(autouse=True)
def fresh_throttle(settings):
    from django.core.cache import cache

    settings.LOGIN_THROTTLE_RATE = "10/minute"
    cache.clear()
    yield
    cache.clear()


def login(client: APIClient, username: str, password: str, **headers):
    return client.post("/portal/api-token-auth/", {"username": username, "password": password}, format="json",
                       **headers)


def test_login_returns_the_users_token_and_profile_lists_their_proposals(owner):
    owner.first_name, owner.last_name, owner.email = "Ada", "Lovelace", "ada@example.org"
    owner.save()
    owner.profile.archive_proposals = ["LCO2026B-012", "KEY2026A-003"]
    owner.profile.save()
    client = APIClient()
    response = login(client, "ada", "pw-ada-12345", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=owner).key}
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert int(response["Content-Length"]) == len(response.content)

    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    profile = client.get("/portal/profile/", HTTP_ORIGIN=ORIGIN)
    assert profile.status_code == 200
    assert profile["Access-Control-Allow-Origin"] == ORIGIN
    assert profile.json() == {
        "username": "ada", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org",
        "is_staff": False, "is_superuser": False,
        "proposals": [
            {"id": "KEY2026A-003", "title": "KEY2026A-003", "current": True},
            {"id": "LCO2026B-012", "title": "Datalab demo: a proprietary globular cluster programme",
             "current": True},
        ],
    }


def test_the_same_token_comes_back_on_every_login(owner):
    first = login(APIClient(), "ada", "pw-ada-12345").json()["token"]
    assert login(APIClient(), "ada", "pw-ada-12345").json()["token"] == first


def test_configured_titles_name_proposals(owner, settings):
    settings.PROPOSAL_TITLES = {"KEY2026A-003": "Supernova follow-up"}
    owner.profile.archive_proposals = ["KEY2026A-003"]
    owner.profile.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {login(client, 'ada', 'pw-ada-12345').json()['token']}")
    assert client.get("/portal/profile/").json()["proposals"] == [
        {"id": "KEY2026A-003", "title": "Supernova follow-up", "current": True}]


@pytest.mark.parametrize("body, message", [
    ({"username": "ada", "password": "wrong"}, BAD_CREDENTIALS),
    ({"username": "nobody", "password": "pw-ada-12345"}, BAD_CREDENTIALS),
    ({"username": "ada"}, "Both username and password are required."),
    ({"username": "", "password": ""}, "Both username and password are required."),
    ({"username": 5, "password": ["x"]}, "Both username and password are required."),
])
def test_bad_credentials_are_a_400_with_a_sentence(owner, body, message):
    response = APIClient().post("/portal/api-token-auth/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_an_inactive_user_cannot_log_in(owner):
    owner.is_active = False
    owner.save()
    assert login(APIClient(), "ada", "pw-ada-12345").status_code == 400


def test_a_stale_token_in_the_browser_does_not_block_login(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert login(client, "ada", "pw-ada-12345").status_code == 200


def test_profile_needs_a_token():
    response = APIClient().get("/portal/profile/")
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication credentials were not provided."}


def test_password_guessing_meets_the_login_throttle(owner, settings):
    settings.LOGIN_THROTTLE_RATE = "3/minute"
    client = APIClient()
    statuses = [login(client, "ada", f"guess-{n}").status_code for n in range(3)]
    assert statuses == [400, 400, 400]
    throttled = login(client, "ada", "pw-ada-12345")  # even the right password waits now
    assert throttled.status_code == 429
    assert throttled.json()["error"].startswith("Request was throttled.")
    assert int(throttled["Retry-After"]) > 0


def test_cors_preflight_of_the_login_call():
    response = APIClient().options(
        "/portal/api-token-auth/", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, accept")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "content-type" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


def test_the_demo_user_can_be_granted_the_proprietary_demo_proposal(capsys):
    from django.core.management import call_command

    call_command("create_demo_user", username="demo")
    password = capsys.readouterr().out.split("password: ")[1].split()[0]
    call_command("create_demo_user", username="demo", proposal=["LCO2026B-012"])
    assert "Proposals of 'demo': LCO2026B-012" in capsys.readouterr().out
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {login(client, 'demo', password).json()['token']}")
    assert [proposal["id"] for proposal in client.get("/portal/profile/").json()["proposals"]] == ["LCO2026B-012"]
