"""Fixtures for fault tests: a scriptable fake archive and a helper to run an operation in-process."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "archive"))

from archive_fakes import FakeArchive  # noqa: E402

from tests.faults import background_runs  # noqa: E402


@pytest.fixture
def fake_archive(settings):
    archive = FakeArchive()
    archive.thread.start()
    settings.ARCHIVE_API = archive.base_url
    settings.ARCHIVE_API_TOKEN = ""
    settings.ARCHIVE_TIMEOUT_SECONDS = 0.5
    settings.ARCHIVE_MAX_RETRIES = 1
    settings.ARCHIVE_BACKOFF_SECONDS = 0.01
    yield archive
    archive.server.shutdown()
    archive.server.server_close()


from tests.e2e.conftest import make_archive_frames, redis_client, start_worker, wait_for  # noqa: E402,F401


@pytest.fixture
def slow_median_frames(settings):
    """Twelve 1024x2048 frames in the local archive: with a one-row band budget, a Median of them
    takes a few seconds, long enough to inject a fault at about half way."""
    return make_archive_frames(settings, count=12, shape=(2048, 1024), n_stars=60,
                               prefix="flt1m001-fa01-20250301", nan_patch=False)


@pytest.fixture
def archive_frames_small(settings):
    return make_archive_frames(settings)


def pytest_collection_finish(session):
    """The fault module's child runs start now and overlap the rest of the suite (background_runs.py)."""
    background_runs.start_for(session.items)


def pytest_sessionfinish(session):
    background_runs.finish()
