"""Output URLs are the same on every GET for a window, and listing sessions costs a fixed number of queries."""
from __future__ import annotations

import json
import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus, OutputFile
from datalab.datalab_session.outputs import sign_output, verify_output_signature

pytestmark = pytest.mark.django_db

ACCESSED = re.compile(rb'"accessed":"[^"]*"')


def completed_operation(user, session: DataSession, index: int, files: int = 2) -> DataOperation:
    """A finished operation whose output lists ``files`` stored products, each with all four kinds."""
    entries = []
    for number in range(files):
        basename = f"datalab-median-{session.pk}-{index}-{number}"
        OutputFile.objects.create(
            user=user, basename=basename, fits_name=f"outputs/{basename}.fits",
            large_name=f"outputs/{basename}-large.jpg", small_name=f"outputs/{basename}-small.jpg",
        )
        entries.append({"basename": basename, "source": "datalab", "type": "fits"})
    return DataOperation.objects.create(
        session=session, user=user, name="Median", input_data={"input_files": []}, cache_key=f"k{session.pk}-{index}",
        status=OperationStatus.COMPLETED, output={"output_files": entries},
    )


def test_two_gets_of_an_operation_are_byte_identical(owner, owner_api):
    session = DataSession.objects.create(user=owner, name="s")
    operation = completed_operation(owner, session, 0)
    url = f"/api/datasessions/{session.pk}/operations/{operation.pk}/"
    first = owner_api.get(url)
    time.sleep(1.1)  # a signature made a second later, were it made afresh
    second = owner_api.get(url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    entry = first.json()["output"]["output_files"][0]
    assert set(entry) == {"basename", "source", "type", "fits_url", "large_url", "small_url"}
    assert entry["fits_url"].startswith(f"http://127.0.0.1:8000/outputs/{entry['basename']}/fits/?sig=")


def test_two_gets_of_a_session_differ_only_in_accessed(owner, owner_api):
    session = DataSession.objects.create(user=owner, name="s")
    for index in range(3):
        completed_operation(owner, session, index)
    first = owner_api.get(f"/api/datasessions/{session.pk}/")
    time.sleep(1.1)
    second = owner_api.get(f"/api/datasessions/{session.pk}/")
    assert first.json()["accessed"] != second.json()["accessed"]  # the first GET touched it
    assert ACCESSED.sub(b"", first.content) == ACCESSED.sub(b"", second.content)
    assert len(first.json()["operations"]) == 3


def test_two_gets_of_the_session_list_are_byte_identical(owner, owner_api):
    for number in range(2):
        session = DataSession.objects.create(user=owner, name=f"s{number}")
        completed_operation(owner, session, 0)
    first = owner_api.get("/api/datasessions/")
    time.sleep(1.1)
    second = owner_api.get("/api/datasessions/")
    assert first.content == second.content
    assert len(first.json()["results"]) == 2


def test_signed_links_ignore_the_request_host(owner, owner_api, settings):
    session = DataSession.objects.create(user=owner, name="s")
    operation = completed_operation(owner, session, 0, files=1)
    url = f"/api/datasessions/{session.pk}/operations/{operation.pk}/"
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_BASE_URL = ""
    entry = owner_api.get(url, HTTP_HOST="attacker.example").json()["output"]["output_files"][0]
    assert entry["small_url"].startswith(f"{settings.DEFAULT_PUBLIC_BASE_URL}/outputs/")
    settings.PUBLIC_BASE_URL = "https://datalab.example.org/"
    entry = owner_api.get(url, HTTP_HOST="attacker.example").json()["output"]["output_files"][0]
    assert entry["small_url"].startswith("https://datalab.example.org/outputs/")


def test_signed_url_is_fixed_within_a_window_and_outlives_the_ttl(settings):
    settings.OUTPUT_URL_TTL_SECONDS, settings.OUTPUT_URL_WINDOW_SECONDS = 3600, 600
    start = 1_800_000_000.0  # a multiple of 600
    same = {sign_output("b", "fits", now=start + offset) for offset in (1, 200, 599)}
    assert len(same) == 1
    expires = int(same.pop().split(":")[0])
    assert expires == start + 3600 + 600
    assert sign_output("b", "fits", now=start + 601).split(":")[0] == str(int(start + 3600 + 1200))
    # Each URL lives at least the TTL from the moment it was signed, at most TTL + window.
    for offset in (0.5, 300, 599.9):
        lifetime = int(sign_output("b", "fits", now=start + offset).split(":")[0]) - (start + offset)
        assert 3600 <= lifetime <= 3600 + 600


def test_signature_binds_product_kind_and_expiry(settings):
    signature = sign_output("datalab-x", "fits")
    assert verify_output_signature("datalab-x", "fits", signature)
    assert not verify_output_signature("datalab-x", "large", signature)
    assert not verify_output_signature("datalab-y", "fits", signature)
    expires, digest = signature.split(":")
    assert not verify_output_signature("datalab-x", "fits", f"{int(expires) + 600}:{digest}")  # a longer life
    past = sign_output("datalab-x", "fits", now=time.time() - settings.OUTPUT_URL_TTL_SECONDS - 2 * 24 * 3600)
    assert not verify_output_signature("datalab-x", "fits", past)


def _list_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/datasessions/")
    assert response.status_code == 200
    return len(queries)


def test_session_list_costs_the_same_queries_for_one_or_many_operations(owner, owner_api, stranger, stranger_api):
    lone = DataSession.objects.create(user=owner, name="one")
    completed_operation(owner, lone, 0)
    one = _list_queries(owner_api)

    for number in range(4):
        session = DataSession.objects.create(user=stranger, name=f"many{number}")
        for index in range(6):
            completed_operation(stranger, session, index, files=3)
    many = _list_queries(stranger_api)
    assert len(json.loads(stranger_api.get("/api/datasessions/").content)["results"]) == 4
    assert many == one
