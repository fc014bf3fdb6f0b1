"""The local archive's frames API: filters, pagination, visibility and signed downloads."""
from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from datalab.local_archive import views

pytestmark = pytest.mark.django_db

PUBLIC_PROPOSAL = "LCOEPO2026B-001"  # as written by the local_frames fixture
PRIVATE_PROPOSAL = "LCO2026B-012"


def list_frames(client: Client, **params) -> dict:
    response = client.get(reverse("local_archive:frame-list"), params)
    assert response.status_code == 200, response.content
    assert response["Content-Length"] == str(len(response.content))
    return response.json()


def basenames(payload: dict) -> list[str]:
    return [record["basename"] for record in payload["results"]]


@pytest.fixture
def member(django_user_model):
    user = django_user_model.objects.create_user(username="alice", password="pw-alice-12345")
    user.profile.archive_proposals = [PRIVATE_PROPOSAL]
    user.profile.save()
    return user


@pytest.fixture
def member_client(member) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member).key}")


@pytest.fixture
def stranger_client(django_user_model) -> Client:
    user = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    user.profile.archive_proposals = ["SOMEONE-ELSES"]
    user.profile.save()
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def test_anonymous_list_shows_public_frames_newest_first(client, local_frames):
    payload = list_frames(client)
    assert payload["count"] == 4
    assert basenames(payload) == [local_frames.south.basename, local_frames.calibration.basename,
                                  local_frames.public_gp.basename, local_frames.public_rp.basename]
    assert payload["next"] is None and payload["previous"] is None


def test_frame_record_fields(client, local_frames):
    frame = local_frames.public_rp
    record = list_frames(client, basename_exact=frame.basename)["results"][0]
    assert record["id"] == frame.id
    assert record["filename"] == f"{frame.basename}.fits.fz"
    assert record["url"].startswith(f"http://testserver/archive/frames/{frame.id}/download/?sig=")
    assert record["version_set"] == [{
        "id": frame.id, "created": record["version_set"][0]["created"], "key": frame.md5, "md5": frame.md5,
        "extension": ".fits.fz", "url": record["url"],
    }]
    assert (record["primary_optical_element"], record["target_name"]) == ("rp", "M51")
    assert record["site_id"] == "elp"
    assert (record["instrument_id"], record["telescope_id"]) == ("fa05", "1m0a")
    assert (record["proposal_id"], record["reduction_level"], record["configuration_type"]) == (
        PUBLIC_PROPOSAL, 91, "EXPOSE")
    assert (record["exposure_time"], record["request_id"]) == (60.0, 101)
    assert record["observation_date"] == "2026-01-10T04:00:00.000000Z"
    assert record["observation_day"] == "2026-01-10"
    assert record["area"]["type"] == "Polygon" and len(record["area"]["coordinates"][0]) == 5
    assert "thumbnails" not in record


@pytest.mark.parametrize(("params", "expected_roles"), [
    ({"basename": "fa05-20260110"}, ["public_rp"]),
    ({"proposal_id": PUBLIC_PROPOSAL}, ["calibration", "public_gp", "public_rp"]),
    ({"public": "true"}, ["south", "calibration", "public_gp", "public_rp"]),
    ({"exclude_calibrations": "true"}, ["south", "public_gp", "public_rp"]),
    ({"reduction_level": "91", "primary_optical_element": "B"}, ["south"]),
    ({"start": "2026-01-11", "end": "2026-01-14"}, ["calibration", "public_gp"]),
    ({"end": "2026-01-10"}, ["public_rp"]),
    ({"start": "2026-01-18T00:00:00Z"}, ["south"]),
    ({"target_name": "ngc 28"}, ["south"]),
    ({"observation_id": "102"}, ["calibration"]),
    ({"request_id": "101"}, ["public_gp", "public_rp"]),
    ({"search": "2808"}, ["south"]),
    ({"search": "elp1m011-fa05-20260112"}, ["public_gp"]),
    ({"covers": "POINT(138.0129 -64.8635)"}, ["south"]),
    ({"covers": "POINT(202.4699 47.1950)", "exclude_calibrations": "true"}, ["public_gp", "public_rp"]),
    ({"covers": "POINT(10 10)"}, []),
])
def test_list_filters(client, local_frames, params, expected_roles):
    payload = list_frames(client, **params)
    assert basenames(payload) == [getattr(local_frames, role).basename for role in expected_roles]
    assert payload["count"] == len(expected_roles)


def test_pagination_with_limit_and_offset(client, local_frames):
    first = list_frames(client, limit=3, exclude_calibrations="true")
    assert first["count"] == 3 and first["next"] is None
    first = list_frames(client, limit=2)
    assert len(first["results"]) == 2 and first["previous"] is None
    next_query = parse_qs(urlsplit(first["next"]).query)
    assert (next_query["offset"], next_query["limit"]) == (["2"], ["2"])
    second = Client().get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    assert parse_qs(urlsplit(second["previous"]).query)["offset"] == ["0"]
    assert set(basenames(first)).isdisjoint(basenames(second))
    assert len(list_frames(client, limit=5000)["results"]) == 4  # capped at 1000, not an error


@pytest.mark.parametrize(("params", "error"), [
    ({"limit": "many"}, "limit must be an integer."),
    ({"limit": "0"}, "limit must be at least 1."),
    ({"offset": "-1"}, "offset must be at least 0."),
    ({"public": "maybe"}, "public must be true or false."),
    ({"start": "yesterday"}, "start must be an ISO date or date-time, e.g. 2026-11-01."),
    ({"covers": "CIRCLE(1 2 3)"}, "covers must look like POINT(<ra> <dec>) in degrees."),
])
def test_bad_parameters_are_a_400_with_an_error(client, local_frames, params, error):
    response = client.get(reverse("local_archive:frame-list"), params)
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_only_get_is_allowed(client, local_frames):
    response = client.post(reverse("local_archive:frame-list"), {})
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed."}


def test_include_thumbnails_gives_signed_jpeg_urls(client, local_frames):
    record = list_frames(client, basename_exact=local_frames.public_gp.basename,
                         include_thumbnails="true")["results"][0]
    assert [thumbnail["size"] for thumbnail in record["thumbnails"]] == ["small", "large"]
    response = client.get(record["thumbnails"][0]["url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_headers_endpoint(client, local_frames):
    response = client.get(reverse("local_archive:frame-headers", args=[local_frames.public_rp.id]))
    assert response.status_code == 200
    headers = response.json()["data"]
    assert (headers["FILTER"], headers["OBJECT"], headers["RLEVEL"]) == ("rp", "M51", 91)
    assert headers["CTYPE1"] == "RA---TAN"


def test_proprietary_frame_is_absent_for_anonymous_and_strangers(client, stranger_client, local_frames):
    frame = local_frames.proprietary
    for someone in (client, stranger_client, Client(HTTP_AUTHORIZATION="Token not-a-real-token")):
        assert frame.basename not in basenames(list_frames(someone))
        assert list_frames(someone, basename_exact=frame.basename)["count"] == 0
        for name in ("frame-detail", "frame-headers"):
            response = someone.get(reverse(f"local_archive:{name}", args=[frame.id]))
            assert response.status_code == 404
            assert response.json() == {"error": "Not found."}
        response = someone.get(reverse("local_archive:frame-thumbnail", args=[frame.id, "small"]))
        assert response.status_code == 404


def test_proprietary_frame_is_visible_to_a_proposal_member(member_client, local_frames):
    frame = local_frames.proprietary
    record = list_frames(member_client, basename_exact=frame.basename)["results"][0]
    assert record["proposal_id"] == PRIVATE_PROPOSAL
    assert list_frames(member_client, public="false")["count"] == 1
    assert member_client.get(reverse("local_archive:frame-detail", args=[frame.id])).json()["id"] == frame.id
    headers = member_client.get(reverse("local_archive:frame-headers", args=[frame.id])).json()["data"]
    assert headers["PROPID"] == PRIVATE_PROPOSAL
    download = Client().get(record["url"])  # the signed URL works without credentials, like S3's
    assert download.status_code == 200


def test_profile_archive_token_also_grants_its_proposals(member, local_frames):
    member.profile.archive_token = "alice-observatory-token"
    member.profile.save()
    someone = Client(HTTP_AUTHORIZATION="Token alice-observatory-token")
    assert list_frames(someone, basename_exact=local_frames.proprietary.basename)["count"] == 1


def test_empty_token_never_matches_profiles_without_an_archive_token(member, local_frames):
    assert member.profile.archive_token == ""
    assert list_frames(Client(HTTP_AUTHORIZATION="Token "), public="false")["count"] == 0


def test_signed_download_streams_the_file(client, local_frames):
    frame = local_frames.public_rp
    record = list_frames(client, basename_exact=frame.basename)["results"][0]
    response = client.get(record["url"])
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert response["Content-Length"] == str(len(body)) == str(frame.size)
    assert hashlib.md5(body).hexdigest() == record["version_set"][0]["md5"]


def test_download_rejects_a_tampered_or_missing_signature(client, local_frames):
    frame, other = local_frames.public_rp, local_frames.public_gp
    url = reverse("local_archive:frame-download", args=[frame.id])
    signature = views.sign_frame(frame)
    for bad in ("", signature[:-2] + ("AA" if not signature.endswith("AA") else "BB"),
                signature.replace(f"{frame.id}:", f"{other.id}:", 1)):
        response = client.get(url, {"sig": bad})
        assert response.status_code == 403
        assert response.json() == {"error": "This download link is invalid."}
    other_url = reverse("local_archive:frame-download", args=[other.id])
    response = client.get(other_url, {"sig": signature})  # a valid signature of another frame
    assert response.status_code == 403
    assert response.json() == {"error": "This download link is invalid."}


def test_download_rejects_an_expired_signature(client, local_frames, monkeypatch):
    frame = local_frames.public_rp
    two_hours_ago = time.time() - 2 * 3600
    monkeypatch.setattr(signing.TimestampSigner, "timestamp",
                        lambda self: signing.b62_encode(int(two_hours_ago)))
    signature = views.sign_frame(frame)
    monkeypatch.undo()
    response = client.get(reverse("local_archive:frame-download", args=[frame.id]), {"sig": signature})
    assert response.status_code == 403
    assert response.json() == {
        "error": "This download link has expired; list the frame again for a fresh one."
    }


def test_unknown_frame_and_thumbnail_size_are_404(client, local_frames):
    assert client.get(reverse("local_archive:frame-detail", args=[999999])).status_code == 404
    response = client.get(reverse("local_archive:frame-thumbnail", args=[local_frames.public_rp.id, "huge"]))
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}
