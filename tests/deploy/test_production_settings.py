"""The production settings refuse unsafe configuration; the worker liveness probe reads heartbeats."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datalab.observability.worker_liveness import main as liveness_main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAFE = {
    "DJANGO_SETTINGS_MODULE": "datalab.settings_production",
    "SECRET_KEY": "Vq3-xL9rT2mK8pZ4nW7cY1bH6dJ0fG5sA2eU9iO3kR8tQ4wE7y",
    "DEBUG": "false",
    "CORS_ALLOWED_ORIGINS": "https://datalab.example.org",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://datalab@127.0.0.1:5432/datalab",
    "ALLOWED_HOSTS": "datalab.example.org",
}


def load_settings(tmp_path: Path, **changes: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in SAFE and key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(SAFE, DATALAB_VAR_DIR=str(tmp_path))
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    code = "import django; django.setup(); from django.conf import settings; print(settings.LOG_FORMAT)"
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_safe_configuration_loads_with_json_logs(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "json"


@pytest.mark.parametrize(("changes", "error"), [
    ({"DEBUG": "true"}, "DEBUG must be off in production"),
    ({"SECRET_KEY": None}, "the development key is refused in production"),
    ({"SECRET_KEY": "datalab-insecure-development-key-change-me"}, "the development key is refused in production"),
    ({"CORS_ALLOWED_ORIGINS": None}, "Set CORS_ALLOWED_ORIGINS"),
    ({"REDIS_URL": None}, "Set REDIS_URL"),
    ({"SECRET_KEY": "x"}, "SECRET_KEY is too weak for production: use at least 50 random characters"),
    ({"SECRET_KEY": "a" * 60}, "SECRET_KEY is too weak for production"),
    ({"SECRET_KEY": "django-insecure-k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7i8o9p0z1x2c3v4"}, "SECRET_KEY is too weak"),
    ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS=* is refused in production"),
    ({"ALLOWED_HOSTS": "datalab.example.org,*"}, "ALLOWED_HOSTS=* is refused in production"),
    ({"DATABASE_URL": None}, "Set DATABASE_URL"),
])
def test_unsafe_configuration_is_refused(tmp_path, changes, error):
    result = load_settings(tmp_path, **changes)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and error in result.stderr


def test_worker_liveness_needs_fresh_heartbeats(tmp_path):
    assert liveness_main([str(tmp_path), "--max-age", "60"]) == 1  # no worker has beaten yet
    (tmp_path / "101").touch()
    assert liveness_main([str(tmp_path), "--max-age", "60"]) == 0
    stale = tmp_path / "102"
    stale.touch()
    old = time.time() - 120
    os.utime(stale, (old, old))
    assert liveness_main([str(tmp_path), "--max-age", "60"]) == 1
