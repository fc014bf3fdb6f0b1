"""Real processes for end-to-end tests: a Dramatiq worker talking to the test database and Redis."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from datalab.local_archive.indexing import index_directory
from datalab.local_archive.synthetic import make_frame, write_frame

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OBSERVED = datetime(2025, 3, 1, 4, 0, tzinfo=timezone.utc)


def worker_environment(live_server, tmp_path: Path, **extra: str | None) -> dict[str, str]:
    """The worker's environment; an ``extra`` value of None removes that variable (the setting's default)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "ARCHIVE_API": f"{live_server.url}/archive/",
        "MEDIA_ROOT": str(tmp_path / "outputs"),
        "FRAME_CACHE_DIR": str(tmp_path / "frame_cache"),
        "OPERATION_TEMP_DIR": str(tmp_path / "op_tmp"),
        "LOCAL_ARCHIVE_DIR": str(tmp_path / "archive"),
        "OPERATION_HEARTBEAT_SECONDS": "1",
        "SECRET_KEY": settings.SECRET_KEY,
    }
    env.update(extra)
    return {key: value for key, value in env.items() if value is not None}


class WorkerProcess:
    """``manage.py rundramatiq`` in its own process group, so it can be stopped or killed whole."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(autouse=True)
def public_base_url(live_server, settings):
    """Signed links name the address this test's web server answers at."""
    settings.PUBLIC_BASE_URL = live_server.url


@pytest.fixture
def redis_client():
    return redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


def drop_broker_messages(client: redis.Redis) -> int:
    """Lose every queued message of this run's broker namespace, as a flushed Redis would, without
    touching other keys of a Redis the developer may share. Returns how many keys went."""
    namespace = settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"]
    keys = list(client.scan_iter(match=f"{namespace}:*", count=500))
    return client.delete(*keys) if keys else 0


@pytest.fixture
def start_worker(live_server, tmp_path):
    workers: list[WorkerProcess] = []

    def start(**extra: str | None) -> WorkerProcess:
        worker = WorkerProcess(worker_environment(live_server, tmp_path, **extra), tmp_path / "worker.log")
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def make_archive_frames(settings, *, count: int = 3, shape: tuple[int, int] = (96, 128), n_stars: int = 30,
                        prefix: str = "tst1m001-fa01-20261101", nan_patch: bool = True) -> list[str]:
    """Public synthetic frames in the local archive (the second with a NaN patch); returns basenames."""
    settings.LOCAL_ARCHIVE_DIR.mkdir(parents=True, exist_ok=True)
    written = _written_frames(count, shape, n_stars, prefix, nan_patch)
    for path in written:
        shutil.copyfile(path, settings.LOCAL_ARCHIVE_DIR / path.name)
    index_directory()
    return [path.name.removesuffix(".fits.fz") for path in written]


# Frames written once per test run, keyed by make_archive_frames' arguments: a frame depends on
# nothing else (each is seeded), and a dozen large compressed frames take seconds to write but a
# fraction of that to copy. Each test still gets its own copies in its own archive directory.
_FRAME_FILES: dict[tuple, list[Path]] = {}
_FRAME_ROOT: list[Path] = []


def _written_frames(count: int, shape: tuple[int, int], n_stars: int, prefix: str, nan_patch: bool) -> list[Path]:
    key = (count, tuple(shape), n_stars, prefix, nan_patch)
    if key not in _FRAME_FILES:
        if not _FRAME_ROOT:
            _FRAME_ROOT.append(Path(tempfile.mkdtemp(prefix="datalab-test-frames-")))
            atexit.register(shutil.rmtree, _FRAME_ROOT[0], ignore_errors=True)
        directory = _FRAME_ROOT[0] / f"set{len(_FRAME_FILES)}"
        paths = []
        for seed in range(count):
            basename = f"{prefix}-{seed + 1:04d}-e91"
            hdul = make_frame(shape=shape, seed=seed, n_stars=n_stars, basename=basename, frame_number=seed + 1,
                              observation_date=OBSERVED, public_date=OBSERVED)
            if nan_patch and seed == 1:
                hdul["SCI"].data[10:14, 20:30] = float("nan")
            paths.append(write_frame(hdul, directory / f"{basename}.fits.fz"))
        _FRAME_FILES[key] = paths
    return _FRAME_FILES[key]


@pytest.fixture
def archive_frames(settings):
    return make_archive_frames(settings)


def wait_for(predicate, *, timeout: float, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
