"""Retries and errors of the client's HTTP layer, against a scripted loopback server."""
from __future__ import annotations

import socket

import pytest

from datalab.client import Datalab, DatalabError, Operation, ServiceUnreachable, WaitTimeout
from datalab.client.transport import Transport
from tests.client.stub_server import Answer, StubServer

UNAVAILABLE = Answer.json(503, {"error": "The database is unavailable; try again shortly."})
SESSIONS = Answer.json(200, {"count": 1, "next": None, "results": [
    {"id": 7, "name": "M51", "input_data": [], "operations": [], "accessed": None}]})


def quick_client(url: str, sleeps: list[float], **options) -> Datalab:
    dl = Datalab(url, "secret-token", **options)
    dl.transport.sleep = sleeps.append
    return dl


def test_503_is_retried_with_doubling_backoff_until_it_answers():
    sleeps: list[float] = []
    with StubServer(UNAVAILABLE, UNAVAILABLE, SESSIONS) as stub:
        sessions = quick_client(stub.url, sleeps, backoff=0.25).sessions.list()
    assert [s.id for s in sessions] == [7] and sessions[0].name == "M51"
    assert len(stub.requests) == 3
    assert sleeps == [0.25, 0.5]
    assert {headers["Authorization"] for _, _, headers in stub.requests} == {"Token secret-token"}
    assert stub.requests[0][1] == "/api/datasessions/"


def test_retry_after_is_honoured_and_capped():
    sleeps: list[float] = []
    with StubServer(Answer(503, b"", {"Retry-After": "2"}), Answer(503, b"", {"Retry-After": "3600"}),
                    SESSIONS) as stub:
        quick_client(stub.url, sleeps).sessions.list()
    assert sleeps == [2.0, 30.0]


def test_503_after_the_last_retry_raises_with_the_service_sentence():
    sleeps: list[float] = []
    with StubServer(UNAVAILABLE) as stub, pytest.raises(DatalabError) as raised:
        quick_client(stub.url, sleeps, max_retries=3).sessions.get(7)
    assert raised.value.status == 503
    assert raised.value.message == "The database is unavailable; try again shortly."
    assert len(stub.requests) == 4 and len(sleeps) == 3


@pytest.mark.parametrize("status, sentence", [
    (400, "Median: 'input_files' needs at least 2 file(s); got 1."),
    (401, "Invalid token."),
    (404, "Not found."),
    (409, "The operation's status does not allow this action."),
])
def test_4xx_fails_at_once_with_its_sentence(status, sentence):
    sleeps: list[float] = []
    with StubServer(Answer.json(status, {"error": sentence}), SESSIONS) as stub, pytest.raises(DatalabError) as raised:
        quick_client(stub.url, sleeps).sessions.get(7)
    assert (raised.value.status, raised.value.message) == (status, sentence)
    assert str(raised.value) == f"{sentence} (HTTP {status})"
    assert len(stub.requests) == 1 and sleeps == []


def test_post_is_not_repeated_after_a_proxy_error_but_get_is():
    sleeps: list[float] = []
    bad_gateway = Answer(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})
    with StubServer(bad_gateway, SESSIONS) as stub, pytest.raises(DatalabError) as raised:
        quick_client(stub.url, sleeps).sessions.create("M51", ["a.fits"])
    assert raised.value.status == 502
    assert raised.value.message == "The service answered 502 Bad Gateway to /api/datasessions/."
    assert len(stub.requests) == 1

    with StubServer(bad_gateway, SESSIONS) as stub:
        assert [s.id for s in quick_client(stub.url, sleeps).sessions.list()] == [7]
    assert [method for method, _, _ in stub.requests] == ["GET", "GET"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def test_refused_connections_are_retried_then_reported():
    sleeps: list[float] = []
    client = quick_client(f"http://127.0.0.1:{closed_port()}", sleeps, max_retries=2, backoff=0.1)
    with pytest.raises(ServiceUnreachable) as raised:
        client.sessions.create("M51", ["a.fits"])  # a POST too: a refused connection never reached the service
    assert sleeps == [0.1, 0.2]
    assert raised.value.status is None
    assert raised.value.message.startswith("Could not connect to 127.0.0.1:")


def test_a_download_cut_short_is_fetched_again_and_never_left_half_written(tmp_path):
    body = bytes(range(256)) * 400
    sleeps: list[float] = []
    with StubServer(Answer(200, body, cut_after=1000), Answer(200, body)) as stub:
        transport = Transport(token=None, backoff=0.01, sleep=sleeps.append)
        saved = transport.download(f"{stub.url}/outputs/x/fits/?sig=1", tmp_path / "out" / "x.fits")
    assert saved.read_bytes() == body
    assert len(stub.requests) == 2 and len(sleeps) == 1
    assert "Authorization" not in stub.requests[0][2]  # signed URLs are fetched without the token
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.fits"]


def test_a_download_that_keeps_failing_leaves_no_file(tmp_path):
    with StubServer(Answer(200, b"x" * 5000, cut_after=10)) as stub:
        transport = Transport(token=None, max_retries=1, backoff=0.01, sleep=lambda _: None)
        with pytest.raises(ServiceUnreachable):
            transport.download(f"{stub.url}/f", tmp_path / "x.fits")
    assert list(tmp_path.iterdir()) == []


def frame_record(number: int) -> dict:
    return {"id": number, "basename": f"ogg-{number:04d}-e91", "primary_optical_element": "rp", "target_name": "M51"}


def test_archive_search_sends_the_filters_and_follows_pages_up_to_the_limit():
    with StubServer() as stub:
        stub.answers.extend([
            Answer.json(200, {"count": 3, "next": f"{stub.url}/archive/frames/?page=2", "results": [frame_record(1)]}),
            Answer.json(200, {"count": 3, "next": f"{stub.url}/archive/frames/?page=3", "results": [frame_record(2)]}),
            Answer.json(200, {"count": 3, "next": None, "results": [frame_record(3)]}),
        ])
        dl = Datalab(stub.url, "secret-token")
        frames = dl.archive.search(target="M51", filter="rp", start="2026-11-01", public=True, covers=(10.5, -3.25),
                                   limit=None)
    assert [frame.basename for frame in frames] == ["ogg-0001-e91", "ogg-0002-e91", "ogg-0003-e91"]
    assert [path for _, path, _ in stub.requests] == [
        "/archive/frames/?target_name=M51&primary_optical_element=rp&start=2026-11-01&public=true"
        "&covers=POINT%2810.5+-3.25%29&limit=1000",
        "/archive/frames/?page=2", "/archive/frames/?page=3"]
    # The embedded archive is the service's own host, so it gets the user's token.
    assert stub.requests[0][2]["Authorization"] == "Token secret-token"


def test_the_token_is_not_sent_to_an_archive_on_another_host():
    with StubServer(Answer.json(200, {"count": 0, "next": None, "results": []})) as archive:
        dl = Datalab("http://127.0.0.1:9", "secret-token", archive_url=archive.url.replace("127.0.0.1", "localhost"))
        assert dl.archive.search(target="M51", limit=5) == []
    assert "Authorization" not in archive.requests[0][2]
    assert archive.requests[0][1] == "/frames/?target_name=M51&limit=5"


def test_waiting_past_the_timeout_raises_and_says_the_operation_keeps_running():
    running = {"id": 4, "session": 2, "name": "Median", "status": "IN_PROGRESS", "operation_progress": 0.4,
               "message": "Combining band 3 of 8.", "output": None, "input_data": {}}
    with StubServer(Answer.json(200, running)) as stub:
        operation = Operation.from_json(running, Datalab(stub.url, "t"))
        with pytest.raises(WaitTimeout) as late:
            operation.wait(timeout=1.2, progress=False)
    assert late.value.message == ("Operation 4 (Median) was still IN_PROGRESS after 1.2 s; "
                                  "it keeps running on the service.")
    assert 1 <= len(stub.requests) <= 3
    assert {path for _, path, _ in stub.requests} == {"/api/datasessions/2/operations/4/"}
