"""Faults against real processes: a killed worker, Redis and PostgreSQL restarts, duplicate posts.

Each test drives the live API over HTTP with a real Dramatiq worker process on a real Redis and
PostgreSQL, injects one fault, and checks the state in the database, the files in storage, the
temp directories and the worker.

The faults stop, flush and restart those servers, so they run only on private ones:
``tests/faults/test_private_services.py`` starts a private Redis and PostgreSQL on free ports and
runs this module against them (``DATALAB_PRIVATE_REDIS`` / ``DATALAB_PRIVATE_POSTGRES`` name them,
and ``REDIS_URL`` / ``DATABASE_URL`` must point at them). Anywhere else these tests are skipped.
"""
from __future__ import annotations

import io
import os
import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from astropy.io import fits
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from datalab.datalab_session.models import DataOperation, OperationStatus, OutputFile
from tests.e2e.conftest import wait_for
from tests.private_services import PrivatePostgres, PrivateRedis


def private_servers() -> tuple[PrivateRedis, PrivatePostgres] | None:
    """The private servers this run may fault, if REDIS_URL and DATABASE_URL point at exactly them."""
    redis_text, postgres_text = os.environ.get("DATALAB_PRIVATE_REDIS"), os.environ.get("DATALAB_PRIVATE_POSTGRES")
    if not (redis_text and postgres_text):
        return None
    redis_server, postgres_server = PrivateRedis.from_description(redis_text), PrivatePostgres.from_description(
        postgres_text)
    db = settings.DATABASES["default"]
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url.startswith(f"redis://127.0.0.1:{redis_server.port}/") or int(db["PORT"]) != postgres_server.port:
        return None
    return redis_server, postgres_server


PRIVATE = private_servers()
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.faults,
    pytest.mark.skipif(PRIVATE is None, reason="needs private servers: see test_private_services.py"),
]

# A worker that recovers quickly: short heartbeats, stale claims noticed after a few seconds.
FAST_RECOVERY = {
    "OPERATION_HEARTBEAT_SECONDS": "1", "OPERATION_STALE_SECONDS": "4", "OPERATION_SWEEP_SECONDS": "1",
}
ONE_ROW_BANDS = {"OPERATION_MEMORY_BUDGET_BYTES": "1"}


@pytest.fixture
def api(live_server, owner):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=owner).key}"
    session.base = f"{live_server.url}/api"
    return session


def submit_median(api, basenames: list[str], name: str = "faults") -> tuple[int, int]:
    items = [{"source": "archive", "basename": b} for b in basenames]
    sid = api.post(f"{api.base}/datasessions/", json={"name": name, "input_data": items}).json()["id"]
    response = api.post(f"{api.base}/datasessions/{sid}/operations/",
                        json={"name": "Median", "input_data": {"input_files": items}})
    assert response.status_code == 201, response.text
    return sid, response.json()["id"]


def operation_row(operation_id: int) -> DataOperation:
    connection.close()  # a fresh connection: PostgreSQL may have restarted under us
    return DataOperation.objects.get(pk=operation_id)


def wait_terminal(operation_id: int, timeout: float = 180) -> DataOperation:
    return wait_for(lambda: (op := operation_row(operation_id)).is_terminal and op, timeout=timeout, interval=0.5)


def expected_median(basenames: list[str]) -> np.ndarray:
    frames = []
    for basename in basenames:
        with fits.open(settings.LOCAL_ARCHIVE_DIR / f"{basename}.fits.fz") as hdul:
            frames.append(hdul["SCI"].data.astype(np.float32))
    return np.nanmedian(np.stack(frames), axis=0)


def output_pixels(operation: DataOperation) -> np.ndarray:
    record = OutputFile.objects.get(basename=operation.output["output_files"][0]["basename"])
    with open(settings.MEDIA_ROOT / record.fits_name, "rb") as handle:
        return fits.getdata(io.BytesIO(handle.read()), "SCI")


def assert_no_temp_files() -> None:
    leftovers = list(settings.OPERATION_TEMP_DIR.glob("op*")) if settings.OPERATION_TEMP_DIR.exists() else []
    assert leftovers == [], f"temp files left behind: {leftovers}"


def test_worker_killed_at_half_way_recovers_exactly_once(api, slow_median_frames, start_worker):
    recovery_seconds = []
    for run in range(3):
        worker = start_worker(**FAST_RECOVERY, **ONE_ROW_BANDS)
        _, operation_id = submit_median(api, slow_median_frames, name=f"kill-{run}")
        wait_for(lambda op=operation_id: operation_row(op).operation_progress >= 0.5, timeout=120, interval=0.05)
        worker.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        assert operation_row(operation_id).status == OperationStatus.IN_PROGRESS

        replacement = start_worker(**FAST_RECOVERY, **ONE_ROW_BANDS)
        wait_for(lambda op=operation_id: operation_row(op).attempts == 2, timeout=60, interval=0.1)
        recovery_seconds.append(time.monotonic() - killed_at)
        operation = wait_terminal(operation_id)
        assert operation.status == OperationStatus.COMPLETED, (operation.message, replacement.log()[-2000:])
        assert OutputFile.objects.filter(operation_id=operation_id).count() == 1
        np.testing.assert_array_equal(output_pixels(operation), expected_median(slow_median_frames))
        assert_no_temp_files()
        replacement.stop()
        DataOperation.objects.filter(pk=operation_id).delete()
    print(f"recovery after kill -9: {[round(s, 1) for s in recovery_seconds]} s, "
          f"median {statistics.median(recovery_seconds):.1f} s")


def test_redis_restart_while_running_loses_nothing(api, slow_median_frames, start_worker, redis_client):
    worker = start_worker(**FAST_RECOVERY, **ONE_ROW_BANDS)
    sid, running_id = submit_median(api, slow_median_frames, name="redis-running")
    wait_for(lambda: operation_row(running_id).status == OperationStatus.IN_PROGRESS, timeout=60, interval=0.1)
    redis_server = PRIVATE[0]
    try:
        redis_server.stop()
        assert not redis_server.ping()
        # The API keeps answering without Redis; new work is accepted and queued later.
        assert api.get(f"{api.base}/datasessions/").status_code == 200
        _, queued_id = submit_median(api, slow_median_frames[:4], name="redis-down")
        assert operation_row(queued_id).status == OperationStatus.PENDING
    finally:
        redis_server.start()
        wait_for(lambda: redis_client.ping(), timeout=10)
    for operation_id in (running_id, queued_id):
        operation = wait_terminal(operation_id)
        assert operation.status == OperationStatus.COMPLETED, (operation.message, worker.log()[-2000:])
    assert worker.process.poll() is None, "the worker must survive a Redis restart"


def test_redis_flushed_with_operations_queued_and_running(api, slow_median_frames, start_worker, redis_client):
    worker = start_worker(**FAST_RECOVERY, **ONE_ROW_BANDS)
    _, running_id = submit_median(api, slow_median_frames, name="flush-running")
    _, queued_id = submit_median(api, slow_median_frames[:3], name="flush-queued")
    wait_for(lambda: operation_row(running_id).status == OperationStatus.IN_PROGRESS, timeout=60, interval=0.1)
    redis_client.flushall()
    seen = {running_id: [], queued_id: []}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not all(operation_row(i).is_terminal for i in seen):
        for operation_id in seen:
            seen[operation_id].append(operation_row(operation_id).status)
        time.sleep(0.3)
    order = [OperationStatus.PENDING, OperationStatus.IN_PROGRESS, OperationStatus.COMPLETED]
    for operation_id, statuses in seen.items():
        assert operation_row(operation_id).status == OperationStatus.COMPLETED, worker.log()[-2000:]
        ranks = [order.index(s) for s in statuses if s in order]
        # A retry may send an operation back to PENDING, but never after it COMPLETED.
        assert OperationStatus.FAILED not in statuses and (not ranks or max(ranks) <= 2)


def test_postgres_restart_mid_operation_and_under_traffic(api, slow_median_frames, start_worker):
    worker = start_worker(**FAST_RECOVERY, **ONE_ROW_BANDS)
    _, operation_id = submit_median(api, slow_median_frames, name="pg-restart")
    wait_for(lambda: operation_row(operation_id).operation_progress >= 0.4, timeout=120, interval=0.1)

    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                response = api.get(f"{api.base}/datasessions/", timeout=5)
                statuses.append(response.status_code)
                if response.status_code >= 500:
                    assert set(response.json()) == {"error"}
            except requests.RequestException:
                statuses.append(0)
            time.sleep(0.05)

    load = threading.Thread(target=traffic, daemon=True)
    load.start()
    PRIVATE[1].restart()
    time.sleep(2)
    stop.set()
    load.join(timeout=10)
    operation = wait_terminal(operation_id)
    assert operation.status == OperationStatus.COMPLETED, (operation.message, worker.log()[-3000:])
    assert worker.process.poll() is None, "the worker must reconnect without a restart"
    assert 200 in statuses
    assert all(code in (0, 200, 503) for code in statuses), sorted(set(statuses))
    np.testing.assert_array_equal(output_pixels(operation), expected_median(slow_median_frames))


def test_twenty_concurrent_identical_submissions_compute_once(api, archive_frames_small, start_worker):
    items = [{"source": "archive", "basename": b} for b in archive_frames_small]
    sid = api.post(f"{api.base}/datasessions/", json={"name": "dups", "input_data": items}).json()["id"]
    body = {"name": "Median", "input_data": {"input_files": items}}
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(
            lambda _: api.post(f"{api.base}/datasessions/{sid}/operations/", json=body, timeout=30), range(20)
        ))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 19 + [201], codes
    assert len({r.json()["id"] for r in responses}) == 1
    start_worker()
    operation = wait_terminal(responses[0].json()["id"], timeout=120)
    assert operation.status == OperationStatus.COMPLETED
    assert operation.attempts == 1
    assert DataOperation.objects.count() == 1
    assert OutputFile.objects.count() == 1


def test_operation_over_the_time_limit_fails_with_a_sentence(api, slow_median_frames, start_worker):
    worker = start_worker(OPERATION_TIME_LIMIT_SECONDS="2", **ONE_ROW_BANDS)
    _, operation_id = submit_median(api, slow_median_frames, name="time-limit")
    operation = wait_terminal(operation_id, timeout=60)
    assert operation.status == OperationStatus.FAILED, worker.log()[-2000:]
    assert operation.message == (
        "The operation ran longer than the limit of 2 s and was stopped. Try fewer or smaller input files."
    )
    assert operation.attempts == 1
    assert not OutputFile.objects.filter(operation_id=operation_id).exists()
    assert worker.process.poll() is None, "the worker keeps serving after a timed-out operation"
    assert_no_temp_files()
