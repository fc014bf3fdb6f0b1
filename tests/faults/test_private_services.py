"""The fault tests run on private servers and leave the developer's own Redis and PostgreSQL alone.

``test_process_faults.py`` stops, flushes and restarts Redis and PostgreSQL. This test starts a
private Redis and a private PostgreSQL cluster on free ports, runs that module against them in a
child pytest, and checks that the servers named by this run's ``REDIS_URL`` and ``DATABASE_URL``
(the developer's own: the machine's defaults here) kept a key written before, and were never
restarted. On the developer's servers it only writes and reads back one unique key.

These child runs take minutes, mostly waiting, so they start as soon as collection is done and run
beside the rest of the suite (``background_runs.py``); each test here checks its run's outcome.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import redis
from django.conf import settings

from tests.faults import background_runs
from tests.private_services import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.faults, pytest.mark.timeout(1800)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def postgres_start_time() -> str:
    """When the developer's PostgreSQL server started: a restart changes it."""
    db = settings.DATABASES["default"]
    with psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"] or "postgres",
                          password=db["PASSWORD"] or None, dbname="postgres") as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()::text")
        return cursor.fetchone()[0]


def run_fault_tests(redis_server: PrivateRedis, postgres_server: PrivatePostgres, tmp_path: Path,
                    *pytest_args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "DATABASE_URL": postgres_server.url,
        "DATALAB_PRIVATE_REDIS": redis_server.describe(),
        "DATALAB_PRIVATE_POSTGRES": postgres_server.describe(),
        "DRAMATIQ_NAMESPACE": f"faults-{secrets.token_hex(4)}",
    }
    command = [sys.executable, "-m", "pytest", "tests/faults/test_process_faults.py", "-p", "no:cacheprovider",
               "-q", "-rA", "--basetemp", str(tmp_path / "faults"), *pytest_args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1700)


@dataclass
class PrivateRun:
    """The fault module's run on private servers, and the developer's servers before and after it."""

    result: subprocess.CompletedProcess
    redis_before: list[tuple[int, str]]  # (process id, run id) of the developer's Redis and the stand-in
    redis_after: list[tuple[int, str]]
    key_written: bytes
    key_read_back: bytes | None
    postgres_started_before: str
    postgres_started_after: str
    private_run_id_before: str
    private_run_id_after: str


def run_on_private_servers() -> PrivateRun:
    # The developer's servers: the Redis of REDIS_URL and the PostgreSQL of DATABASE_URL (checked for
    # restarts only: other test runs sharing them may flush them), and a separate Redis of theirs
    # that holds a key. test_a_redis_on_the_default_port_survives puts that one on port 6379.
    developer_redis = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    servers: list[PrivateRedis | PrivatePostgres] = []
    basetemp = Path(tempfile.mkdtemp(prefix="datalab-private-faults-"))
    try:
        for server in (PrivateRedis(), PrivatePostgres(), PrivateRedis()):
            servers.append(server.start())
        private_redis, private_postgres, stand_in = servers
        stand_in_client = redis.Redis.from_url(stand_in.url)
        key, value = f"developer-work-{secrets.token_hex(8)}", secrets.token_hex(16)
        stand_in_client.set(key, value)
        clients = (developer_redis, stand_in_client)
        redis_before = [(c.info("server")["process_id"], c.info("server")["run_id"]) for c in clients]
        postgres_started = postgres_start_time()
        private_run_id = redis.Redis.from_url(private_redis.url).info("server")["run_id"]
        result = run_fault_tests(private_redis, private_postgres, basetemp, *os.environ.get(
            "DATALAB_FAULT_TEST_ARGS", "").split())
        return PrivateRun(
            result=result, redis_before=redis_before,
            redis_after=[(c.info("server")["process_id"], c.info("server")["run_id"]) for c in clients],
            key_written=value.encode(), key_read_back=stand_in_client.get(key),
            postgres_started_before=postgres_started, postgres_started_after=postgres_start_time(),
            private_run_id_before=private_run_id,
            private_run_id_after=redis.Redis.from_url(private_redis.url).info("server")["run_id"],
        )
    finally:
        for server in servers:
            server.remove()
        shutil.rmtree(basetemp, ignore_errors=True)


def test_fault_tests_run_on_private_servers_and_spare_the_developers():
    run = background_runs.outcome(run_on_private_servers)
    result = run.result
    summary = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, summary
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1], summary
    print(result.stdout.splitlines()[-1])
    for line in result.stdout.splitlines():
        if line.startswith("recovery after kill -9"):
            print(line)

    for before, after in zip(run.redis_before, run.redis_after, strict=True):
        assert after == before, "a developer's Redis was restarted"
    assert run.key_read_back == run.key_written
    assert run.postgres_started_after == run.postgres_started_before, "the developer's PostgreSQL was restarted"
    # The faults did happen, on the private Redis: it runs with a new run id after its restart.
    assert run.private_run_id_after != run.private_run_id_before


NAMESPACED = "DATALAB_FAULTS_IN_NETWORK_NAMESPACE"
# The fault tests that restart or flush Redis or restart PostgreSQL.
SERVER_FAULTS = "redis_restart or redis_flushed or postgres_restart"


CAN_UNSHARE = os.geteuid() == 0 and bool(shutil.which("unshare") and shutil.which("ip"))


def run_in_network_namespace() -> tuple[subprocess.CompletedProcess, str, str]:
    """The test below in a network namespace of its own; the developer's PostgreSQL start time before and after."""
    postgres_started = postgres_start_time()
    basetemp = Path(tempfile.mkdtemp(prefix="datalab-namespace-faults-"))
    script = 'ip link set lo up && exec "$0" -m pytest "$1" -k default_port_inside -p no:cacheprovider -q -s ' \
             '--basetemp "$2"'
    try:
        result = subprocess.run(
            ["unshare", "--net", "--", "sh", "-c", script, sys.executable, __file__, str(basetemp / "inside")],
            cwd=PROJECT_ROOT, env={**os.environ, NAMESPACED: "1"}, capture_output=True, text=True, timeout=1700,
        )
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)
    return result, postgres_started, postgres_start_time()


@pytest.mark.skipif(not CAN_UNSHARE, reason="needs root, unshare and ip for a private network namespace")
def test_a_redis_on_the_default_port_survives_the_fault_tests():
    """The fault tests run in a network namespace of their own where a Redis standing in for the
    developer's listens on the default port 127.0.0.1:6379 with a key: it keeps the key and its process."""
    result, postgres_started_before, postgres_started_after = background_runs.outcome(run_in_network_namespace)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].startswith("1 passed"), result.stdout[-4000:]
    assert postgres_started_after == postgres_started_before, "the developer's PostgreSQL was restarted"


@pytest.mark.skipif(not os.environ.get(NAMESPACED), reason="runs inside the namespace of the test above")
def test_default_port_inside_the_namespace(tmp_path):
    developer = PrivateRedis(port=6379).start()  # the namespace's own loopback: not the machine's 6379
    client = redis.Redis(host="127.0.0.1", port=6379)
    key, value = f"developer-work-{secrets.token_hex(8)}", secrets.token_hex(16)
    client.set(key, value)
    identity = (client.info("server")["process_id"], client.info("server")["run_id"])
    private_redis, private_postgres = PrivateRedis().start(), PrivatePostgres().start()
    try:
        # The faults that restart or flush a server (the whole module runs in the test above).
        result = run_fault_tests(private_redis, private_postgres, tmp_path, "-k", SERVER_FAULTS)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]
        assert client.get(key) == value.encode()
        assert (client.info("server")["process_id"], client.info("server")["run_id"]) == identity
    finally:
        for server in (private_redis, private_postgres, developer):
            server.remove()


def run_on_the_developers_servers() -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATALAB_PRIVATE_")}
    basetemp = Path(tempfile.mkdtemp(prefix="datalab-skipped-faults-"))
    try:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "tests/faults/test_process_faults.py", "-p", "no:cacheprovider", "-q",
             "--basetemp", str(basetemp / "faults")],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)


def test_fault_tests_skip_on_the_developers_servers():
    """Pointed at anything but private servers, the fault module refuses to fault them."""
    result = background_runs.outcome(run_on_the_developers_servers)
    assert result.returncode == 0, result.stdout[-3000:]
    last = result.stdout.splitlines()[-1]
    assert re.match(r"^\d+ skipped in ", last) and "passed" not in last, result.stdout[-3000:]


# Each run starts when collection is done and overlaps the rest of the suite (background_runs.py).
BACKGROUND_RUNS = {
    test_fault_tests_run_on_private_servers_and_spare_the_developers.__name__: run_on_private_servers,
    **({test_a_redis_on_the_default_port_survives_the_fault_tests.__name__: run_in_network_namespace}
       if CAN_UNSHARE else {}),
    test_fault_tests_skip_on_the_developers_servers.__name__: run_on_the_developers_servers,
}
