"""A per-user limit on unfinished operations, and outputs that go with the last operation listing them."""
from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus, OutputFile
from datalab.datalab_session.outputs import output_urls

pytestmark = pytest.mark.django_db


def frames(*names: str) -> dict:
    return {"input_files": [{"source": "archive", "basename": name} for name in names]}


def new_session(api) -> int:
    return api.post("/api/datasessions/", {"name": "s", "input_data": []}, format="json").json()["id"]


def submit(api, session_id: int, *names: str):
    return api.post(f"/api/datasessions/{session_id}/operations/", {"name": "Median", "input_data": frames(*names)},
                    format="json")


def test_unfinished_operations_are_limited_per_user(owner_api, stranger_api, settings):
    settings.OPERATION_MAX_UNFINISHED_PER_USER = 3
    session = new_session(owner_api)
    created = [submit(owner_api, session, f"a{i}", "b") for i in range(3)]
    assert [response.status_code for response in created] == [201, 201, 201]
    refused = submit(owner_api, session, "a9", "b")
    assert refused.status_code == 429
    assert refused.json() == {"error": "You have 3 unfinished operations, the most allowed at once is 3: wait for "
                                       "some to finish, or cancel some, before submitting more."}
    assert DataOperation.objects.filter(session_id=session).count() == 3
    # Another user is not affected.
    assert submit(stranger_api, new_session(stranger_api), "a9", "b").status_code == 201
    # Resubmitting an identical request answers with the existing operation, quota or not.
    assert submit(owner_api, session, "a0", "b").status_code == 200
    # Once one ends (here: cancelled), there is room again; resubmitting the cancelled one takes it back.
    first = created[0].json()["id"]
    assert owner_api.post(f"/api/datasessions/{session}/operations/{first}/cancel/").status_code == 200
    assert submit(owner_api, session, "a9", "b").status_code == 201
    assert submit(owner_api, session, "a0", "b").status_code == 429
    assert DataOperation.objects.get(pk=first).status == OperationStatus.FAILED


def stored_result(user, session: DataSession, basename: str, cache_key: str) -> DataOperation:
    """A completed operation whose one output has a FITS and a small JPEG in storage."""
    fits_name = default_storage.save(f"outputs/{user.pk}/{basename}/{basename}.fits", ContentFile(b"SIMPLE"))
    small_name = default_storage.save(f"outputs/{user.pk}/{basename}/{basename}-small.jpg", ContentFile(b"jpg"))
    OutputFile.objects.create(user=user, basename=basename, fits_name=fits_name, small_name=small_name)
    return DataOperation.objects.create(
        session=session, user=user, name="Median", input_data=frames("x", "y"), cache_key=cache_key,
        status=OperationStatus.COMPLETED, output={"output_files": [{"basename": basename, "source": "datalab"}]},
    )


def link_status(client, url: str) -> tuple[int, int]:
    return client.get(url).status_code, client.head(url).status_code


def test_deleting_the_last_operation_listing_an_output_deletes_its_files(owner, owner_api, client,
                                                                         django_capture_on_commit_callbacks):
    first_session = DataSession.objects.create(user=owner, name="one")
    second_session = DataSession.objects.create(user=owner, name="two")
    original = stored_result(owner, first_session, "datalab-median-shared", "key-1")
    reuse = DataOperation.objects.create(  # a reused result lists the same output
        session=second_session, user=owner, name="Median", input_data=original.input_data, cache_key="key-1",
        status=OperationStatus.COMPLETED, output=original.output,
    )
    record = OutputFile.objects.get(basename="datalab-median-shared")
    urls = output_urls(record)
    names = [record.fits_name, record.small_name]
    assert link_status(client, urls["fits_url"]) == (200, 200)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.delete(f"/api/datasessions/{first_session.pk}/operations/{original.pk}/")
    assert response.status_code == 204
    assert all(default_storage.exists(name) for name in names)  # the reuse still lists it
    assert link_status(client, urls["small_url"]) == (200, 200)

    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/api/datasessions/{second_session.pk}/").status_code == 204
    assert not DataOperation.objects.filter(pk=reuse.pk).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert not OutputFile.objects.filter(basename="datalab-median-shared").exists()
    for url in urls.values():
        assert link_status(client, url) == (404, 404)


def test_bulk_delete_releases_each_operations_outputs(owner, owner_api, client, django_capture_on_commit_callbacks):
    session = DataSession.objects.create(user=owner, name="s")
    doomed = [stored_result(owner, session, f"datalab-median-{i}", f"key-{i}") for i in range(2)]
    kept = stored_result(owner, session, "datalab-median-kept", "key-kept")
    doomed_urls = [output_urls(OutputFile.objects.get(basename=f"datalab-median-{i}"))["fits_url"] for i in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(f"/api/datasessions/{session.pk}/operations/bulk_delete/",
                                  {"ids": [op.pk for op in doomed]}, format="json")
    assert response.json() == {"deleted": 2}
    assert [client.get(url).status_code for url in doomed_urls] == [404, 404]
    assert list(OutputFile.objects.values_list("basename", flat=True)) == ["datalab-median-kept"]
    assert client.get(output_urls(OutputFile.objects.get(basename="datalab-median-kept"))["fits_url"]).status_code \
        == 200
    assert DataOperation.objects.filter(pk=kept.pk).exists()
