"""The web role under concurrent load, as gunicorn runs it: analysis calls never make the server
wait on itself, and the login throttle counts across gunicorn workers.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.deploy.test_web_and_worker_processes import RoleProcess, free_port, role_environment
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture
def start_web(tmp_path, settings):
    started: list[RoleProcess] = []
    (tmp_path / "static").mkdir()

    def start(**extra: str) -> str:
        port = free_port()
        env = role_environment(tmp_path, "web", web_port=port, metrics_port=free_port())
        env.update(LOCAL_ARCHIVE_DIR=str(settings.LOCAL_ARCHIVE_DIR), ANALYSIS_CACHE_DIR=str(tmp_path / "analysis"),
                   **extra)
        started.append(RoleProcess("web", env, tmp_path))
        base = f"http://127.0.0.1:{port}"

        def healthy():
            try:
                return requests.get(f"{base}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=60, interval=0.3)
        return base

    yield start
    for process in started:
        process.stop()


def test_concurrent_analysis_on_one_worker_with_two_threads(start_web, archive_frames, owner):
    base = start_web(WEB_CONCURRENCY="1", WEB_THREADS="2", ARCHIVE_TIMEOUT_SECONDS="10", ARCHIVE_MAX_RETRIES="0")
    http = requests.Session()
    http.headers["Authorization"] = f"Token {Token.objects.create(user=owner).key}"
    body = {"basename": archive_frames[0], "source": "archive"}
    warm = http.post(f"{base}/api/analysis/headers/", json=body, timeout=30)
    assert warm.status_code == 200, warm.text

    def analyse(_):
        started = time.monotonic()
        response = requests.post(f"{base}/api/analysis/headers/", json=body, timeout=30,
                                 headers=http.headers)
        return response.status_code, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=6) as pool:
        calls = [pool.submit(analyse, n) for n in range(6)]
        time.sleep(0.05)
        health_started = time.monotonic()
        health = requests.get(f"{base}/healthz", timeout=30)
        health_seconds = time.monotonic() - health_started
        results = [call.result() for call in calls]
    assert [code for code, _ in results] == [200] * 6, results
    assert max(seconds for _, seconds in results) < 5, results
    assert health.status_code == 200 and health_seconds < 3, health_seconds


def test_login_throttle_counts_across_gunicorn_workers(start_web, owner):
    base = start_web(WEB_CONCURRENCY="2", WEB_THREADS="1", LOGIN_THROTTLE_RATE="4/minute")
    # Fresh connections, so the two workers both take some of the attempts.
    codes = [requests.post(f"{base}/api/auth/token/", json={"username": "ada", "password": "wrong"},
                           timeout=10, headers={"Connection": "close"}).status_code for _ in range(8)]
    assert codes == [400] * 4 + [429] * 4, codes
    refused = requests.post(f"{base}/api/auth/token/", json={"username": "ada", "password": "pw-ada-12345"},
                            timeout=10)
    assert refused.status_code == 429
    assert refused.json()["error"].startswith("Too many login attempts; try again in ")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
