"""Creating, listing and deleting operations; validation at the door; owner scoping."""
from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datalab.datalab_session.models import DataOperation, OperationStatus, OutputFile

pytestmark = pytest.mark.django_db


def frame(basename: str, **extra) -> dict:
    return {"source": "archive", "basename": basename, **extra}


MEDIAN_INPUT = {"input_files": [frame("frame-a"), frame("frame-b")]}


@pytest.fixture
def session_id(owner_api) -> int:
    return owner_api.post("/api/datasessions/", {"name": "s", "input_data": []}, format="json").json()["id"]


def post_operation(api, session_id, name="Median", input_data=None):
    return api.post(
        f"/api/datasessions/{session_id}/operations/",
        {"name": name, "input_data": MEDIAN_INPUT if input_data is None else input_data},
        format="json",
    )


def test_available_operations_lists_median_wizard(owner_api):
    response = owner_api.get("/api/available_operations/")
    assert response.status_code == 200
    median = response.json()["Median"]
    assert median["name"] == "Median"
    assert median["inputs"]["input_files"]["type"] == "fits"
    assert median["inputs"]["input_files"]["minimum"] == 2


def test_create_operation_is_pending_and_returned_as_posted(owner_api, session_id):
    response = post_operation(owner_api, session_id)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["input_data"] == MEDIAN_INPUT
    assert body["operation_progress"] == 0.0
    detail = owner_api.get(f"/api/datasessions/{session_id}/operations/{body['id']}/").json()
    assert detail["name"] == "Median"


def test_operations_listed_in_creation_order(owner_api, session_id):
    ids = [
        post_operation(owner_api, session_id, input_data={"input_files": [frame(f"f{i}"), frame("g")]}).json()["id"]
        for i in range(4)
    ]
    listed = owner_api.get(f"/api/datasessions/{session_id}/operations/").json()["results"]
    assert [op["id"] for op in listed] == ids
    session = owner_api.get(f"/api/datasessions/{session_id}/").json()
    assert [op["id"] for op in session["operations"]] == ids


def test_identical_request_in_a_session_returns_the_same_operation(owner_api, session_id):
    first = post_operation(owner_api, session_id)
    reordered_display_keys = {"input_files": [frame("frame-a", url="u1"), frame("frame-b", id=7)]}
    second = post_operation(owner_api, session_id, input_data=reordered_display_keys)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert DataOperation.objects.count() == 1


def test_finished_identical_operation_is_reused_in_another_session(owner, owner_api, session_id):
    first = DataOperation.objects.get(pk=post_operation(owner_api, session_id).json()["id"])
    OutputFile.objects.create(user=owner, operation=first, basename="datalab-median-x",
                              fits_name=default_storage.save("outputs/x.fits", ContentFile(b"fits")))
    output = {"output_files": [{"basename": "datalab-median-x", "source": "datalab", "type": "fits"}]}
    DataOperation.objects.filter(pk=first.pk).update(status=OperationStatus.COMPLETED, output=output)
    other_session = owner_api.post("/api/datasessions/", {"name": "t"}, format="json").json()["id"]
    reused = post_operation(owner_api, other_session).json()
    assert reused["id"] != first.pk
    assert reused["status"] == "COMPLETED"
    assert reused["output"]["output_files"][0]["basename"] == "datalab-median-x"
    assert reused["message"] == f"Reused the result of the identical operation #{first.pk}."


def test_a_result_whose_files_are_gone_is_computed_again(owner, owner_api, session_id):
    first = DataOperation.objects.get(pk=post_operation(owner_api, session_id).json()["id"])
    OutputFile.objects.create(user=owner, operation=first, basename="datalab-median-y",
                              fits_name="outputs/lost-with-the-old-data-directory.fits")
    output = {"output_files": [{"basename": "datalab-median-y", "source": "datalab", "type": "fits"}]}
    DataOperation.objects.filter(pk=first.pk).update(status=OperationStatus.COMPLETED, output=output)
    other_session = owner_api.post("/api/datasessions/", {"name": "t"}, format="json").json()["id"]
    again = post_operation(owner_api, other_session).json()
    assert again["id"] != first.pk
    assert again["status"] == "PENDING"


def test_another_users_identical_result_is_not_reused(owner, owner_api, stranger_api, session_id):
    first = DataOperation.objects.get(pk=post_operation(owner_api, session_id).json()["id"])
    DataOperation.objects.filter(pk=first.pk).update(
        status=OperationStatus.COMPLETED, output={"output_files": []}
    )
    stranger_session = stranger_api.post("/api/datasessions/", {"name": "m"}, format="json").json()["id"]
    theirs = post_operation(stranger_api, stranger_session).json()
    assert theirs["status"] == "PENDING"


@pytest.mark.parametrize(
    ("name", "input_data", "error"),
    [
        ("Nope", MEDIAN_INPUT, "Unknown operation 'Nope'. Available operations: "),
        ("Median", {"input_files": [frame("only-one")]}, "Median: 'input_files' needs at least 2 file(s); got 1."),
        ("Median", {}, "Median needs 'input_files' (Input Files)."),
        ("Median", {"input_files": "frame-a"}, "Median: 'input_files' must be a list of file items."),
        ("Median", {"input_files": [frame("a"), {"source": "archive"}]},
         "Median: 'input_files' item 2 has no 'basename'."),
        ("Median", {"input_files": [frame("a"), frame("b", source="ftp")]},
         "Median: 'input_files' item 2 has source 'ftp'; expected 'archive' or 'datalab'."),
        ("Median", [1, 2], "input_data must be an object keyed by input name."),
    ],
)
def test_bad_operation_requests_are_400_with_a_sentence(owner_api, session_id, name, input_data, error):
    response = post_operation(owner_api, session_id, name=name, input_data=input_data)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert DataOperation.objects.count() == 0


def test_missing_operation_name_is_400(owner_api, session_id):
    response = owner_api.post(f"/api/datasessions/{session_id}/operations/", {"input_data": {}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "name: This field is required."}


def test_too_many_inputs_are_refused(owner_api, session_id, settings):
    settings.OPERATION_MAX_INPUT_FILES = 10
    files = [frame(f"f{i}") for i in range(11)]
    response = post_operation(owner_api, session_id, input_data={"input_files": files})
    assert response.status_code == 400
    assert response.json() == {"error": "Median accepts at most 10 input files in all; got 11."}


def test_someone_elses_output_cannot_be_an_input(owner, owner_api, stranger, stranger_api, session_id):
    OutputFile.objects.create(user=owner, basename="datalab-median-secret")
    stranger_session = stranger_api.post("/api/datasessions/", {"name": "m"}, format="json").json()["id"]
    stolen = {"input_files": [frame("a"), {"source": "datalab", "basename": "datalab-median-secret"}]}
    response = post_operation(stranger_api, stranger_session, input_data=stolen)
    assert response.status_code == 400
    assert response.json() == {"error": "Input datalab-median-secret is not one of your Datalab outputs."}


def test_bulk_delete_and_delete(owner_api, session_id):
    ids = [
        post_operation(owner_api, session_id, input_data={"input_files": [frame(f"f{i}"), frame("g")]}).json()["id"]
        for i in range(3)
    ]
    url = f"/api/datasessions/{session_id}/operations/"
    response = owner_api.post(f"{url}bulk_delete/", {"ids": ids[:2]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert owner_api.delete(f"{url}{ids[2]}/").status_code == 204
    assert owner_api.get(url).json()["results"] == []


def test_bulk_delete_needs_a_list_of_ids(owner_api, session_id):
    url = f"/api/datasessions/{session_id}/operations/bulk_delete/"
    response = owner_api.post(url, {"ids": "all"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": 'ids: Expected a list of items but got type "str".'}


def test_stranger_gets_404_on_every_operation_endpoint(owner_api, stranger_api, session_id):
    op_id = post_operation(owner_api, session_id).json()["id"]
    base = f"/api/datasessions/{session_id}/operations/"
    assert stranger_api.get(base).status_code == 404
    assert stranger_api.get(f"{base}{op_id}/").status_code == 404
    assert stranger_api.delete(f"{base}{op_id}/").status_code == 404
    assert post_operation(stranger_api, session_id).status_code == 404
    response = stranger_api.post(f"{base}bulk_delete/", {"ids": [op_id]}, format="json")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}
    assert DataOperation.objects.filter(pk=op_id).exists()


def test_stranger_cannot_reach_operation_through_own_session(owner_api, stranger_api, session_id):
    op_id = post_operation(owner_api, session_id).json()["id"]
    own = stranger_api.post("/api/datasessions/", {"name": "m"}, format="json").json()["id"]
    assert stranger_api.get(f"/api/datasessions/{own}/operations/{op_id}/").status_code == 404
    response = stranger_api.post(f"/api/datasessions/{own}/operations/bulk_delete/", {"ids": [op_id]}, format="json")
    assert response.json() == {"deleted": 0}
    assert DataOperation.objects.filter(pk=op_id).exists()


def test_renderer_writes_non_finite_floats_as_null():
    from datalab.datalab_session.renderers import FiniteJSONRenderer

    rendered = FiniteJSONRenderer().render({"output_data": [{"flux": float("nan"), "mag": float("-inf"), "x": 1.5}]})
    assert rendered == b'{"output_data":[{"flux":null,"mag":null,"x":1.5}]}'
