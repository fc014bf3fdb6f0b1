"""The fault tests run on private servers and leave the developer's own Redis and PostgreSQL alone.

``test_process_faults.py`` stops, flushes and restarts Redis and PostgreSQL. This test starts a
private Redis and a private PostgreSQL cluster on free ports, runs that module against them in a
child pytest, and checks that the servers named by this run's ``REDIS_URL`` and ``DATABASE_URL``
(the developer's own: the machine's defaults here) kept a key written before, and were never
restarted. On the developer's servers it only writes and reads back one unique key.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import redis
from django.db import connection

from tests.private_services import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.faults, pytest.mark.timeout(1800)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.remove()


@pytest.fixture
def private_postgres():
    server = PrivatePostgres().start()
    yield server
    server.remove()


def postgres_start_time() -> str:
    """When the developer's PostgreSQL server started: a restart changes it."""
    db = connection.settings_dict
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


def test_fault_tests_run_on_private_servers_and_spare_the_developers(private_redis, private_postgres, tmp_path):
    # The developer's servers: the Redis of REDIS_URL and the PostgreSQL of DATABASE_URL (checked for
    # restarts only: other test runs sharing them may flush them), and a separate Redis of theirs
    # that holds a key. test_a_redis_on_the_default_port_survives puts that one on port 6379.
    developer_redis = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    stand_in = PrivateRedis().start()
    stand_in_client = redis.Redis.from_url(stand_in.url)
    key, value = f"developer-work-{secrets.token_hex(8)}", secrets.token_hex(16)
    stand_in_client.set(key, value)
    servers = {client: (client.info("server")["process_id"], client.info("server")["run_id"])
               for client in (developer_redis, stand_in_client)}
    postgres_started = postgres_start_time()
    private_run_id = redis.Redis.from_url(private_redis.url).info("server")["run_id"]
    try:
        result = run_fault_tests(private_redis, private_postgres, tmp_path, *os.environ.get(
            "DATALAB_FAULT_TEST_ARGS", "").split())
        summary = result.stdout[-4000:] + result.stderr[-2000:]
        assert result.returncode == 0, summary
        assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1], summary
        print(result.stdout.splitlines()[-1])
        for line in result.stdout.splitlines():
            if line.startswith("recovery after kill -9"):
                print(line)

        for client, (process_id, run_id) in servers.items():
            assert (client.info("server")["process_id"], client.info("server")["run_id"]) == (process_id, run_id), \
                "a developer's Redis was restarted"
        assert stand_in_client.get(key) == value.encode()
        assert postgres_start_time() == postgres_started, "the developer's PostgreSQL was restarted"
        # The faults did happen, on the private Redis: it runs with a new run id after its restart.
        assert redis.Redis.from_url(private_redis.url).info("server")["run_id"] != private_run_id
    finally:
        stand_in.remove()


NAMESPACED = "DATALAB_FAULTS_IN_NETWORK_NAMESPACE"
# The fault tests that restart or flush Redis or restart PostgreSQL.
SERVER_FAULTS = "redis_restart or redis_flushed or postgres_restart"


@pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")),
                    reason="needs root, unshare and ip for a private network namespace")
def test_a_redis_on_the_default_port_survives_the_fault_tests(tmp_path):
    """The fault tests run in a network namespace of their own where a Redis standing in for the
    developer's listens on the default port 127.0.0.1:6379 with a key: it keeps the key and its process."""
    postgres_started = postgres_start_time()
    script = 'ip link set lo up && exec "$0" -m pytest "$1" -k default_port_inside -p no:cacheprovider -q -s ' \
             '--basetemp "$2"'
    result = subprocess.run(
        ["unshare", "--net", "--", "sh", "-c", script, sys.executable, __file__, str(tmp_path / "inside")],
        cwd=PROJECT_ROOT, env={**os.environ, NAMESPACED: "1"}, capture_output=True, text=True, timeout=1700,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].startswith("1 passed"), result.stdout[-4000:]
    assert postgres_start_time() == postgres_started, "the developer's PostgreSQL was restarted"


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


def test_fault_tests_skip_on_the_developers_servers(tmp_path):
    """Pointed at anything but private servers, the fault module refuses to fault them."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATALAB_PRIVATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/faults/test_process_faults.py", "-p", "no:cacheprovider", "-q",
         "--basetemp", str(tmp_path / "faults")],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    last = result.stdout.splitlines()[-1]
    assert re.match(r"^\d+ skipped in ", last) and "passed" not in last, result.stdout[-3000:]
