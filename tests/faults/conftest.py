"""Fixtures for fault tests: a scriptable fake archive and a helper to run an operation in-process."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "archive"))

from archive_fakes import FakeArchive  # noqa: E402


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


from tests.e2e.conftest import OBSERVED, redis_client, start_worker, wait_for  # noqa: E402,F401


@pytest.fixture
def slow_median_frames(settings):
    """Eight 1024x1024 frames in the local archive: with a one-row band budget, a Median of them
    takes seconds, long enough to inject a fault at about half way."""
    from datalab.local_archive.indexing import index_directory
    from datalab.local_archive.synthetic import make_frame, write_frame

    settings.LOCAL_ARCHIVE_DIR.mkdir(parents=True, exist_ok=True)
    basenames = []
    for seed in range(8):
        basename = f"flt1m001-fa01-20250301-{seed + 1:04d}-e91"
        hdul = make_frame(shape=(1024, 1024), seed=seed, n_stars=60, basename=basename, frame_number=seed + 1,
                          observation_date=OBSERVED, public_date=OBSERVED)
        write_frame(hdul, settings.LOCAL_ARCHIVE_DIR / f"{basename}.fits.fz")
        basenames.append(basename)
    index_directory()
    return basenames


@pytest.fixture
def archive_frames_small(settings):
    from tests.e2e.conftest import make_archive_frames

    return make_archive_frames(settings)
