"""The archive client against a misbehaving archive: retries, refusals and verified downloads."""
from __future__ import annotations

import hashlib
import multiprocessing
import threading
import time

import pytest
from archive_fakes import Corrupt, Hang, Reply, Truncate, cache_contents, tiny_fits_bytes

from data_operations.errors import OperationError, TransientError
from datalab.archive import client as archive_client

BASENAME = "coj1m011-fa12-20261101-0042-e91"
NOT_FOUND = (f"The archive could not find frame {BASENAME}, "
             "or it is not visible with your archive token.")


def test_retries_server_errors_then_succeeds(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("list", Reply(500), Reply(503))
    path = make_client().fetch_frame(BASENAME)
    assert path.read_bytes() == frame_bytes
    assert fake_archive.hits["list"] == 3
    assert make_client.delays == [0.25, 0.5]  # exponential backoff


@pytest.mark.parametrize("status", [401, 403, 404, 400, 410])
def test_client_errors_are_not_retried(fake_archive, make_client, frame_bytes, status):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("list", Reply(status))
    with pytest.raises(OperationError) as raised:
        make_client().fetch_frame(BASENAME)
    assert fake_archive.hits["list"] == 1
    assert make_client.delays == []
    expected = {
        401: f"The archive refused access to frame {BASENAME} (HTTP 401); check your archive token.",
        403: f"The archive refused access to frame {BASENAME} (HTTP 403); check your archive token.",
        404: NOT_FOUND,
        400: f"The archive rejected the request for frame {BASENAME} (HTTP 400).",
        410: f"The archive rejected the request for frame {BASENAME} (HTTP 410).",
    }[status]
    assert str(raised.value) == expected


def test_frame_missing_from_results_is_not_found(fake_archive, make_client):
    with pytest.raises(OperationError) as raised:
        make_client().find_frame(BASENAME)
    assert str(raised.value) == NOT_FOUND
    assert fake_archive.hits["list"] == 1


def test_429_honours_retry_after_with_a_cap(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("list", Reply(429, headers={"Retry-After": "7"}),
                        Reply(429, headers={"Retry-After": "86400"}))
    assert make_client().find_frame(BASENAME)["basename"] == BASENAME
    assert make_client.delays == [7.0, archive_client.RETRY_AFTER_CAP_SECONDS]


def test_429_waits_for_real_through_the_module_api(fake_archive, fast_archive_settings, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("list", Reply(429, headers={"Retry-After": "1"}))
    started = time.monotonic()
    record = archive_client.find_frame(basename=BASENAME, token=None)
    assert record["id"] == 1
    assert time.monotonic() - started >= 1.0  # not the 0.01 s backoff


def test_exhausted_retries_raise_transient_error(fake_archive, fast_archive_settings, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("list", *[Reply(503)] * 3)
    with pytest.raises(TransientError) as raised:
        archive_client.fetch_frame(basename=BASENAME, token=None)
    assert str(raised.value) == "The archive is unavailable: HTTP 503."
    assert fake_archive.hits["list"] == 3  # first attempt + ARCHIVE_MAX_RETRIES


def test_hanging_archive_times_out_then_gives_up(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("list", Hang(2.0), Hang(2.0))
    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        make_client(max_retries=1, timeout=0.2).find_frame(BASENAME)
    assert str(raised.value) == "The archive is unavailable: the request timed out."
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_transient(make_client, tmp_path):
    client = make_client(max_retries=1)
    client.base_url = "http://127.0.0.1:9/"  # discard port: nothing listens
    with pytest.raises(TransientError) as raised:
        client.find_frame(BASENAME)
    assert str(raised.value) == "The archive is unavailable: could not connect."


def test_md5_mismatch_never_enters_the_cache(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("download", Corrupt(), Corrupt(), Corrupt())
    client = make_client()
    with pytest.raises(TransientError) as raised:
        client.fetch_frame(BASENAME)
    assert str(raised.value) == "The archive is unavailable: the downloaded file failed its md5 check."
    assert fake_archive.hits["download"] == 3
    assert cache_contents(client.cache.directory) == {"frames": [], "temporaries": []}


def test_corrupt_then_good_download_is_retried(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.script("download", Corrupt())
    path = make_client().fetch_frame(BASENAME)
    assert hashlib.md5(path.read_bytes()).hexdigest() == hashlib.md5(frame_bytes).hexdigest()
    assert fake_archive.hits["download"] == 2


def test_truncated_download_never_enters_the_cache(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes, with_md5=False)
    fake_archive.script("download", Truncate(), Truncate(), Truncate())
    client = make_client()
    with pytest.raises(TransientError) as raised:
        client.fetch_frame(BASENAME)
    assert str(raised.value) == "The archive is unavailable: the download was cut off."
    assert cache_contents(client.cache.directory) == {"frames": [], "temporaries": []}
    fake_archive.script("download", Truncate())
    assert client.fetch_frame(BASENAME).read_bytes() == frame_bytes


@pytest.mark.parametrize("with_md5", [True, False])
def test_html_instead_of_fits_is_a_permanent_error(fake_archive, make_client, with_md5):
    html = b"<!DOCTYPE html><html><body>Maintenance</body></html>" * 20
    fake_archive.add_frame(BASENAME, html, with_md5=with_md5)
    client = make_client()
    with pytest.raises(OperationError) as raised:
        client.fetch_frame(BASENAME)
    assert str(raised.value) == (
        f"The archive returned something that is not a FITS file for frame {BASENAME}."
    )
    assert fake_archive.hits["download"] == 1
    assert cache_contents(client.cache.directory) == {"frames": [], "temporaries": []}


def test_changed_version_is_fetched_again(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    client = make_client()
    first = client.fetch_frame(BASENAME)
    assert client.fetch_frame(BASENAME) == first
    assert fake_archive.hits["download"] == 1
    new_version = tiny_fits_bytes(seed=2)
    fake_archive.add_frame(BASENAME, new_version)
    second = client.fetch_frame(BASENAME)
    assert second != first and second.read_bytes() == new_version
    assert fake_archive.hits["download"] == 2


def test_token_fallback_and_header(fake_archive, fast_archive_settings, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes, visible_to={"service-token"})
    with pytest.raises(OperationError):
        archive_client.find_frame(basename=BASENAME, token=None)
    assert fake_archive.authorizations["list"] == [None]
    fast_archive_settings.ARCHIVE_API_TOKEN = "service-token"
    assert archive_client.find_frame(basename=BASENAME, token=None)["basename"] == BASENAME
    assert archive_client.frame_headers(frame_id=1, token=None) == {"FILTER": "rp", "OBJECT": "M51"}
    assert fake_archive.authorizations["headers"] == ["Token service-token"]


def test_token_is_not_sent_to_another_download_host(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes, download_host="localhost")
    make_client("user-token").fetch_frame(BASENAME)
    assert fake_archive.authorizations["list"] == ["Token user-token"]
    assert fake_archive.authorizations["download"] == [None]


def test_concurrent_threads_download_once(fake_archive, make_client, frame_bytes):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.download_delay = 0.3
    paths, errors = [], []

    def fetch() -> None:
        try:
            paths.append(make_client().fetch_frame(BASENAME))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(paths) == 6 and len(set(paths)) == 1
    assert fake_archive.hits["download"] == 1
    assert fake_archive.hits["list"] == 6


def _fetch_in_process(base_url: str, cache_dir: str, results) -> None:
    from datalab.archive.client import ArchiveClient
    from datalab.archive.frame_cache import FrameCache

    client = ArchiveClient(base_url=base_url, token=None, timeout=5, max_retries=0, backoff=0.01,
                           cache=FrameCache(directory=cache_dir, max_bytes=10**8))
    results.put(str(client.fetch_frame(BASENAME)))


def test_concurrent_processes_download_once(fake_archive, frame_bytes, tmp_path):
    fake_archive.add_frame(BASENAME, frame_bytes)
    fake_archive.download_delay = 0.3
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    arguments = (fake_archive.base_url, str(tmp_path / "c"), results)
    workers = [context.Process(target=_fetch_in_process, args=arguments) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert len({results.get(timeout=1) for _ in workers}) == 1
    assert fake_archive.hits["download"] == 1
