"""The production roles as separate processes: gunicorn web and Dramatiq worker, started by the
image's entrypoint with the production settings, against the real PostgreSQL and Redis.

One Median over HTTP, then what an operator sees: /readyz, the metrics of both roles, and JSON
log lines that carry the API call's request id into the worker.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = PROJECT_ROOT / "deploy" / "entrypoint.sh"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def role_environment(tmp_path: Path, role: str, *, web_port: int, metrics_port: int) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "datalab.settings_production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": "false",
        "CORS_ALLOWED_ORIGINS": "http://127.0.0.1:8081",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "DRAMATIQ_NAMESPACE": f"deploy-test-{tmp_path.name}",
        "ARCHIVE_API": f"http://127.0.0.1:{web_port}/archive/",
        "DATALAB_VAR_DIR": str(tmp_path / role / "var"),
        "MEDIA_ROOT": str(tmp_path / "outputs"),  # shared storage, as S3 is between pods
        "LOCAL_ARCHIVE_DIR": str(tmp_path / "archive"),
        "FRAME_CACHE_DIR": str(tmp_path / role / "frame_cache"),
        "OPERATION_TEMP_DIR": str(tmp_path / role / "op_tmp"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / role / "prometheus"),
        "WORKER_HEARTBEAT_DIR": str(tmp_path / role / "heartbeat"),
        "WORKER_HEARTBEAT_SECONDS": "1",
        "OPERATION_HEARTBEAT_SECONDS": "1",
        "PORT": str(web_port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "WEB_CONCURRENCY": "2",
        "dramatiq_prom_host": "127.0.0.1",
        "dramatiq_prom_port": str(metrics_port),
        "LOG_LEVEL": "INFO",
        "STATIC_ROOT": str(tmp_path / "static"),  # collected at image build; empty here
    }


class RoleProcess:
    """One role of the image (``web`` or ``worker``) in its own process group, logs in files."""

    def __init__(self, role: str, env: dict[str, str], log_dir: Path):
        self.role = role
        self.stdout_path = log_dir / f"{role}.out"
        self.stderr_path = log_dir / f"{role}.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                ["sh", str(ENTRYPOINT), role], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=err,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def json_lines(self) -> list[dict]:
        lines = [line for line in self.stderr_path.read_text(errors="replace").splitlines() if line.strip()]
        return [json.loads(line) for line in lines]

    def tail(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:] + self.stdout_path.read_text()[-1000:]


@pytest.fixture
def roles(tmp_path, archive_frames, settings):
    web_port, metrics_port = free_port(), free_port()
    started: dict[str, RoleProcess] = {}
    (tmp_path / "static").mkdir()
    for role in ("web", "worker"):
        env = role_environment(tmp_path, role, web_port=web_port, metrics_port=metrics_port)
        env["LOCAL_ARCHIVE_DIR"] = str(settings.LOCAL_ARCHIVE_DIR)
        started[role] = RoleProcess(role, env, tmp_path)
    yield started, f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{metrics_port}/metrics"
    for process in started.values():
        process.stop()


def samples(metrics_text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    }


def test_web_and_worker_serve_an_operation_and_report_it(roles, owner, archive_frames, settings):
    processes, web, worker_metrics = roles
    api = f"{web}/api"
    http = requests.Session()
    http.headers["Authorization"] = f"Token {Token.objects.create(user=owner).key}"

    def ready():
        try:
            response = http.get(f"{web}/readyz", timeout=10)
        except requests.ConnectionError:
            return None
        return response if response.status_code == 200 else None

    readiness = wait_for(ready, timeout=60, interval=0.5)
    checks = readiness.json()
    assert len(checks) == 3 and set(checks.values()) == {"OK"}, checks
    assert {name.split("(")[0] for name in checks} == {"Database", "Storage", "Redis"}
    assert http.get(f"{web}/healthz", timeout=10).json() == {"status": "ok"}

    items = [{"type": "fitsfile", "source": "archive", "basename": b} for b in archive_frames]
    created_session = http.post(f"{api}/datasessions/", json={"name": "deploy", "input_data": items}, timeout=30)
    assert created_session.status_code == 201, created_session.text
    request_id = f"deploy-test-{secrets.token_hex(8)}"
    created = http.post(
        f"{api}/datasessions/{created_session.json()['id']}/operations/",
        json={"name": "Median", "input_data": {"input_files": items}},
        headers={"X-Request-ID": request_id}, timeout=30,
    )
    assert created.status_code == 201, created.text
    assert created.headers["X-Request-ID"] == request_id
    url = f"{api}/datasessions/{created_session.json()['id']}/operations/{created.json()['id']}/"

    def finished():
        body = http.get(url, timeout=10).json()
        return body if body["status"] in ("COMPLETED", "FAILED") else None

    operation = wait_for(finished, timeout=120, interval=0.5)
    assert operation["status"] == "COMPLETED", (operation["message"], processes["worker"].tail())

    # The worker pod's scrape: our operation counters with Dramatiq's own message metrics.
    def operation_counted():
        try:
            text = requests.get(worker_metrics, timeout=10).text
        except requests.ConnectionError:
            return None
        values = samples(text)
        key = ("datalab_operations_finished_total", (("operation", "Median"), ("outcome", "completed")))
        return values if values.get(key) == 1.0 else None

    worker_values = wait_for(operation_counted, timeout=30, interval=0.5)
    frame_bytes = sum(next(settings.LOCAL_ARCHIVE_DIR.rglob(f"{b}.fits*")).stat().st_size for b in archive_frames)
    assert worker_values[("datalab_archive_downloaded_bytes_total", ())] == frame_bytes
    assert worker_values[("datalab_frame_cache_lookups_total", (("result", "miss"),))] == 3.0
    assert worker_values[(
        "datalab_operation_duration_seconds_count", (("operation", "Median"), ("outcome", "completed"))
    )] == 1.0
    messages = ("dramatiq_messages_total", (("actor_name", "run_next_operation"), ("queue_name", "datalab")))
    assert worker_values[messages] == 1.0

    # The web pod's scrape: requests by method, from both gunicorn workers summed.
    web_values = samples(http.get(f"{web}/metrics", timeout=10).text)
    assert web_values[("django_http_requests_total_by_method_total", (("method", "POST"),))] == 2.0

    # The request id travels from the API call into the worker's JSON log lines.
    web_lines = processes["web"].json_lines()
    assert any(line.get("request_id") == request_id and line.get("status") == 201 and line["logger"] ==
               "datalab.request" for line in web_lines), web_lines[-5:]
    worker_lines = processes["worker"].json_lines()
    timing = [line for line in worker_lines if line.get("event") == "operation_finished"]
    assert len(timing) == 1, worker_lines[-10:]
    assert timing[0]["request_id"] == request_id
    assert (timing[0]["operation"], timing[0]["inputs"], timing[0]["outcome"], timing[0]["status"]) == \
        ("Median", 3, "completed", "COMPLETED")
    assert 0 < timing[0]["duration_seconds"] < 120
    assert timing[0]["level"] == "INFO" and timing[0]["logger"] == "datalab.operations"
