"""User B probes every route of the URL conf with user A's ids, basenames and URLs: zero leaks.

The matrix is generated from the URL conf, so a new endpoint is probed without editing this file;
a route with a path parameter this file does not know fails the test until it is given a value.
"""
from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass

import numpy as np
import pytest
from astropy.io import fits
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver

from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus, OutputFile
from datalab.datalab_session.outputs import output_urls

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]
ANALYSIS_ACTIONS = ["raw-data", "wcs", "line-profile", "source-catalog", "centroiding", "get-jpg", "get-tif", "headers"]
SECRET_NAME = "A-secret-session-name"
SECRET_BASENAME = "datalab-median-secretoutput-1"
# Route prefixes outside the user-data API: the admin has its own login, the embedded archive is
# scoped by archive rights (tested in tests/archive), auth/docs pages hold no user data.
SKIPPED_PREFIXES = ("admin/", "archive/", "api-auth/", "api/auth/", "api/schema/")


@dataclass
class VictimData:
    session: DataSession
    operation: DataOperation
    output: OutputFile


@pytest.fixture
def victim(owner) -> VictimData:
    session = DataSession.objects.create(user=owner, name=SECRET_NAME, input_data=[{"basename": "secret-frame"}])
    data = np.arange(64, dtype=np.float32).reshape(8, 8)
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data=data, name="SCI")]).writeto(buffer)
    output = OutputFile.objects.create(
        user=owner, basename=SECRET_BASENAME,
        fits_name=default_storage.save(f"outputs/{SECRET_BASENAME}.fits", ContentFile(buffer.getvalue())),
        large_name=default_storage.save(f"outputs/{SECRET_BASENAME}-large.jpg", ContentFile(b"\xff\xd8jpeg")),
        small_name=default_storage.save(f"outputs/{SECRET_BASENAME}-small.jpg", ContentFile(b"\xff\xd8jpeg")),
    )
    operation = DataOperation.objects.create(
        session=session, user=owner, name="Median", cache_key="victim", status=OperationStatus.COMPLETED,
        input_data={"input_files": [{"source": "archive", "basename": "secret-frame"}]},
        output={"output_files": [{"basename": SECRET_BASENAME, "source": "datalab", "type": "fits"}]},
    )
    output.operation = operation
    output.save()
    return VictimData(session, operation, output)


def _routes(patterns=None, prefix: str = ""):
    """Every (route pattern string, view) in the URL conf, with nested prefixes joined."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def _clean(route: str) -> str:
    route = route.replace("^", "").replace("$", "").replace("\\.", ".")
    return route.replace("/?", "/")


def _parameters(route: str) -> list[str]:
    return re.findall(r"\(\?P<(\w+)>[^)]*\)", route) + re.findall(r"<(?:\w+:)?(\w+)>", route)


def _fill(route: str, values: dict[str, str]) -> str:
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def victim_values(victim: VictimData, route: str) -> list[dict[str, str]]:
    """Ways to name the victim's objects in this route's path parameters."""
    pk = str(victim.operation.pk if "operations" in route else victim.session.pk)
    base = {"pk": pk, "session_pk": str(victim.session.pk), "basename": SECRET_BASENAME, "id": pk,
            "format": "json"}
    if "<action>" in route or "(?P<action>" in route or ":action>" in route:
        return [{**base, "action": action} for action in ANALYSIS_ACTIONS]
    if "kind" in _parameters(route):
        return [{**base, "kind": kind} for kind in ("fits", "large", "small", "tif")]
    return [base]


def hostile_body(victim: VictimData) -> dict:
    item = {"source": "datalab", "basename": SECRET_BASENAME, "operation": victim.operation.pk, "type": "fits"}
    return {
        "name": "Median", "ids": [victim.operation.pk], "basename": SECRET_BASENAME, "source": "datalab",
        "input_data": {"input_files": [item, item | {"basename": SECRET_BASENAME + "x"}]},
        "x": 1, "y": 1, "width": 8, "height": 8, "x1": 0, "y1": 0, "x2": 5, "y2": 5, "max_size": 8,
        "zmin": 0, "zmax": 10, "radius": 2, "r_back1": 3, "r_back2": 4,
    }


def assert_no_leak(response, victim: VictimData, where: str) -> None:
    body = response.content if not getattr(response, "streaming", False) else b"".join(response.streaming_content)
    assert SECRET_NAME.encode() not in body, where
    assert SECRET_BASENAME.encode() not in body or response.status_code >= 400, where
    assert b"secret-frame" not in body, where
    assert not (200 <= response.status_code < 300 and body.startswith(b"SIMPLE")), where


def test_stranger_gets_nothing_from_any_route(victim, stranger_api, stranger, owner_api):
    own_session = DataSession.objects.create(user=stranger, name="mine")
    probes = 0
    for raw_route, _ in _routes():
        route = _clean(raw_route)
        if route.startswith(SKIPPED_PREFIXES) or route in ("", "api/"):
            continue
        unknown = set(_parameters(raw_route)) - {"pk", "session_pk", "basename", "kind", "action", "id", "format"}
        assert not unknown, f"route {route} has path parameters {unknown}: give them victim values"
        for values in victim_values(victim, raw_route):
            variants = [(values, True)]
            if "session_pk" in values:  # the victim's operation through the stranger's own session
                variants.append(({**values, "session_pk": str(own_session.pk)}, "pk" in _parameters(raw_route)))
            for variant, names_victim_object in variants:
                url = _fill(route, variant)
                for method in METHODS:
                    response = getattr(stranger_api, method)(url, hostile_body(victim), format="json")
                    probes += 1
                    where = f"{method.upper()} {url} -> {response.status_code}"
                    assert_no_leak(response, victim, where)
                    if names_victim_object and _parameters(raw_route) and not url.startswith("/outputs/"):
                        assert response.status_code in (400, 404, 405), where
    # Nothing of the victim's changed.
    victim.session.refresh_from_db()
    victim.operation.refresh_from_db()
    assert victim.session.name == SECRET_NAME
    assert victim.operation.status == OperationStatus.COMPLETED
    assert OutputFile.objects.filter(basename=SECRET_BASENAME).exists()
    assert owner_api.get(f"/api/datasessions/{victim.session.pk}/").status_code == 200
    print(f"isolation probes: {probes}, leaks: 0")
    assert probes > 100


def test_output_urls_need_a_valid_unexpired_signature(victim, client, settings):
    urls = output_urls(victim.output)
    assert client.get(urls["fits_url"]).status_code == 200  # the genuine signed URL works
    for url in urls.values():
        tampered = url.replace("sig=", "sig=1")
        assert client.get(tampered).status_code == 404
        assert client.get(url.split("?")[0]).status_code == 404
        other = url.replace(SECRET_BASENAME, "datalab-median-other-1")
        assert client.get(other).status_code == 404
    swapped_kind = urls["large_url"].replace("/large/", "/fits/")
    assert client.get(swapped_kind).status_code == 404
    # A URL's expiry is fixed when it is signed: sign one that lives 2 s and outlive it.
    settings.OUTPUT_URL_TTL_SECONDS, settings.OUTPUT_URL_WINDOW_SECONDS = 2, 1
    short_lived = output_urls(victim.output)["fits_url"]
    assert client.get(short_lived).status_code == 200
    time.sleep(3.1)
    expired = client.get(short_lived)
    assert expired.status_code == 404
    assert expired.json() == {"error": "Not found."}
