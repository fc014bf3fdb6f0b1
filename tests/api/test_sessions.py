"""The data session API as the front end and the README use it."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ARCHIVE_ITEM = {
    "source": "archive", "basename": "coj1m011-fa12-20261101-0042-e91", "id": 42,
    "url": "https://example.invalid/frame", "filter": "rp", "target_name": "M51",
    "observation_date": "2026-11-01T03:04:05Z",
}
README_ITEM = {"type": "fitsfile", "source": "archive", "basename": "mrc1-sq005mm-20231114-00010332"}


def create_session(api, name="My session", items=None):
    response = api.post("/api/datasessions/", {"name": name, "input_data": items or []}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_and_list_session_stores_items_exactly(owner_api):
    created = create_session(owner_api, items=[ARCHIVE_ITEM, README_ITEM])
    listed = owner_api.get("/api/datasessions/").json()
    assert [s["id"] for s in listed["results"]] == [created["id"]]
    session = listed["results"][0]
    assert session["input_data"] == [ARCHIVE_ITEM, README_ITEM]
    assert session["operations"] == []
    assert session["accessed"]


def test_json_responses_carry_content_length(owner_api):
    create_session(owner_api)
    response = owner_api.get("/api/datasessions/")
    assert int(response["Content-Length"]) == len(response.content)


def test_patch_merges_items_without_duplicates(owner_api):
    session = create_session(owner_api, items=[ARCHIVE_ITEM])
    new_item = {**README_ITEM, "basename": "new-frame-1"}
    response = owner_api.patch(
        f"/api/datasessions/{session['id']}/",
        {"name": "Renamed", "input_data": [ARCHIVE_ITEM, new_item, new_item]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["id"] == session["id"]
    stored = owner_api.get(f"/api/datasessions/{session['id']}/").json()
    assert stored["name"] == "Renamed"
    assert stored["input_data"] == [ARCHIVE_ITEM, new_item]


@pytest.mark.parametrize("suffix", ["/", ""])
def test_delete_with_or_without_trailing_slash(owner_api, suffix):
    session = create_session(owner_api)
    response = owner_api.delete(f"/api/datasessions/{session['id']}{suffix}")
    assert response.status_code == 204
    assert owner_api.get(f"/api/datasessions/{session['id']}/").status_code == 404


def test_filter_sessions_by_name_and_created_date(owner_api):
    create_session(owner_api, name="Andromeda")
    create_session(owner_api, name="Whirlpool")
    names = [s["name"] for s in owner_api.get("/api/datasessions/?name=whirl").json()["results"]]
    assert names == ["Whirlpool"]
    later = owner_api.get("/api/datasessions/?created_after=2999-01-01T00:00:00Z").json()
    assert later["results"] == []
    response = owner_api.get("/api/datasessions/?created_after=not-a-date")
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_stranger_sees_no_sessions_and_gets_404(owner_api, stranger_api):
    session = create_session(owner_api)
    assert stranger_api.get("/api/datasessions/").json()["results"] == []
    url = f"/api/datasessions/{session['id']}/"
    assert stranger_api.get(url).status_code == 404
    assert stranger_api.patch(url, {"name": "x"}, format="json").status_code == 404
    assert stranger_api.delete(url).status_code == 404
    assert owner_api.get(url).status_code == 200


def test_anonymous_request_is_refused_with_error_body(client):
    response = client.get("/api/datasessions/")
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication credentials were not provided."}


def test_malformed_json_is_a_400_error(owner_api):
    response = owner_api.post("/api/datasessions/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "The request body is not valid JSON."}


def test_missing_name_is_a_400_error(owner_api):
    response = owner_api.post("/api/datasessions/", {"input_data": []}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "name: This field is required."}


def test_input_data_must_be_a_list(owner_api):
    response = owner_api.post("/api/datasessions/", {"name": "x", "input_data": {"a": 1}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "input_data must be a list of data items."}


def test_cors_preflight_allows_the_front_end(owner_api, client):
    response = client.options(
        "/api/datasessions/",
        HTTP_ORIGIN="http://localhost:8081",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:8081"
    assert "authorization" in response["Access-Control-Allow-Headers"]
