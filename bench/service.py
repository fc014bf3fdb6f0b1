"""The whole service on this machine, started the way it is deployed, for a benchmark to drive over HTTP.

Roles come from the image's entrypoint (``deploy/entrypoint.sh``): ``web`` is gunicorn with the
project's configuration, ``worker`` one ``rundramatiq`` process with two threads. Everything they
keep is private to the run and removed afterwards: a database created beside ``DATABASE_URL``'s
(``<name>_bench_<pid>``), a Dramatiq namespace in ``REDIS_URL``'s Redis, and a temporary directory
for the embedded local archive (the demo frames, ``generate_demo_frames``), outputs and caches.
Users are made with ``create_demo_user``, as a new user would, each with its own API token.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import redis
import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = PROJECT_ROOT / "deploy" / "entrypoint.sh"
READY_TIMEOUT_S = 120.0


@dataclass
class Service:
    """A running web + worker pair: where to reach it, the users' tokens, and its log files."""

    url: str
    tokens: list[str]
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log_tail(self, role: str, characters: int = 3000) -> str:
        return (self.log_dir / f"{role}.log").read_text(errors="replace")[-characters:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def private_database(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on ``base_url``'s server; dropped on exit."""
    name = f"{urlsplit(base_url).path.lstrip('/') or 'datalab'}_bench_{os.getpid()}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(base_url, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _drop_namespace(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


def service_environment(*, root: Path, database_url: str, redis_url: str, namespace: str, port: int,
                        extra: dict[str, str] | None = None) -> dict[str, str]:
    """Both roles' environment: development settings, private database, namespace and directories."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "datalab.settings",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DRAMATIQ_NAMESPACE": namespace,
        "DATALAB_VAR_DIR": str(root / "var"),
        "WORKER_HEARTBEAT_DIR": str(root / "heartbeat"),
        "PORT": str(port),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
        "ARCHIVE_API": f"http://127.0.0.1:{port}/archive/",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "WORKER_THREADS": "2",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra or {})
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _create_user(env: dict[str, str], username: str) -> str:
    output = _manage(env, "create_demo_user", "--username", username, "--no-admin")
    match = re.search(r"API token for '[^']+': (\w+)", output)
    if match is None:
        raise RuntimeError(f"create_demo_user printed no token: {output!r}")
    return match.group(1)


def _start_role(role: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    """The entrypoint's ``role`` in its own process group; each role keeps its own metrics directory."""
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(log_dir / f"prometheus-{role}")}
    with open(log_dir / f"{role}.log", "wb") as log:
        return subprocess.Popen(["sh", str(ENTRYPOINT), role], cwd=PROJECT_ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _stop_role(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_ready(url: str, processes: dict[str, subprocess.Popen]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for role, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"the {role} role exited with {process.returncode} while starting")
        try:
            if requests.get(f"{url}/readyz", timeout=15).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet; a slow first answer
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the web role did not become ready within {READY_TIMEOUT_S:.0f} s")


@contextmanager
def running_service(*, users: int, database_url: str, redis_url: str, demo_size: int = 1024,
                    extra_env: dict[str, str] | None = None, keep_logs: Path | None = None) -> Iterator[Service]:
    """Migrate, write the demo frames, make ``users`` users, start web and worker; stop and clean up on exit.

    ``extra_env`` overrides settings of both roles (e.g. ``WORKER_POLL_MILLISECONDS``).
    """
    root = Path(tempfile.mkdtemp(prefix="bench-service-"))
    namespace = f"datalab-bench-{os.getpid()}"
    port = free_port()
    processes: dict[str, subprocess.Popen] = {}
    try:
        with private_database(database_url) as private_url:
            env = service_environment(root=root, database_url=private_url, redis_url=redis_url,
                                      namespace=namespace, port=port, extra=extra_env)
            _manage(env, "migrate", "--no-input", "--verbosity", "0")
            _manage(env, "generate_demo_frames", "--size", str(demo_size))
            tokens = [_create_user(env, f"bench-user-{index + 1}") for index in range(users)]
            service = Service(url=f"http://127.0.0.1:{port}", tokens=tokens, log_dir=root, processes=processes)
            try:
                for role in ("web", "worker"):
                    processes[role] = _start_role(role, env, root)
                _wait_until_ready(service.url, processes)
                yield service
            finally:
                for process in processes.values():
                    _stop_role(process)
                if keep_logs is not None:
                    keep_logs.mkdir(parents=True, exist_ok=True)
                    for role in processes:
                        shutil.copy(root / f"{role}.log", keep_logs / f"{role}.log")
    finally:
        _drop_namespace(redis_url, namespace)
        shutil.rmtree(root, ignore_errors=True)
