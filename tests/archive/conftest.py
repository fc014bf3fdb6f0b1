"""Fixtures for the archive client (a scriptable fake archive) and the local archive (indexed frames)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from archive_fakes import FakeArchive, tiny_fits_bytes

from datalab.archive.client import ArchiveClient
from datalab.archive.frame_cache import FrameCache
from datalab.local_archive.synthetic import make_frame, write_frame


@pytest.fixture
def fake_archive():
    archive = FakeArchive()
    archive.thread.start()
    yield archive
    archive.server.shutdown()
    archive.server.server_close()


@pytest.fixture(scope="session")
def frame_bytes() -> bytes:
    return tiny_fits_bytes(seed=1)


@pytest.fixture
def fast_archive_settings(settings, fake_archive):
    """Point the module-level client at the fake archive with small timeouts and backoffs."""
    settings.ARCHIVE_API = fake_archive.base_url
    settings.ARCHIVE_API_TOKEN = ""
    settings.ARCHIVE_TIMEOUT_SECONDS = 0.5
    settings.ARCHIVE_MAX_RETRIES = 2
    settings.ARCHIVE_BACKOFF_SECONDS = 0.01
    settings.FRAME_CACHE_MAX_BYTES = 50 * 1024 * 1024
    return settings


@pytest.fixture
def make_client(tmp_path, fake_archive):
    """An ArchiveClient on the fake archive whose sleeps are recorded instead of slept."""
    delays: list[float] = []

    def build(token: str | None = None, *, max_bytes: int = 50 * 1024 * 1024, max_retries: int = 2,
              timeout: float = 0.5) -> ArchiveClient:
        cache = FrameCache(directory=tmp_path / "client_cache", max_bytes=max_bytes)
        return ArchiveClient(base_url=fake_archive.base_url, token=token, timeout=timeout,
                             max_retries=max_retries, backoff=0.25, cache=cache, sleep=delays.append)

    build.delays = delays
    return build


# --- the local archive ---------------------------------------------------------------------------
NOW = datetime.now(timezone.utc)
PUBLIC_PROPOSAL = "LCOEPO2026B-001"
PRIVATE_PROPOSAL = "LCO2026B-012"


@dataclass
class ArchiveFiles:
    """The frames written for local-archive tests, by role."""

    public_rp: Any
    public_gp: Any
    calibration: Any
    proprietary: Any
    south: Any


@pytest.fixture
def local_frames(settings, db) -> ArchiveFiles:
    """Five small indexed frames in LOCAL_ARCHIVE_DIR: public, calibration, proprietary, elsewhere."""
    from datalab.local_archive.indexing import index_directory

    root = Path(settings.LOCAL_ARCHIVE_DIR)
    past = datetime(2026, 1, 10, 4, 0, tzinfo=timezone.utc)
    common = {"shape": (64, 64), "n_stars": 10, "ra": 202.4696, "dec": 47.1952, "target_name": "M51",
              "site_id": "elp", "instrument_id": "fa05", "proposal_id": PUBLIC_PROPOSAL, "public_date": past}
    specs = {
        "public_rp": {**common, "seed": 1, "filter_name": "rp", "frame_number": 1, "request_id": 101,
                      "observation_date": past},
        "public_gp": {**common, "seed": 2, "filter_name": "gp", "frame_number": 2, "request_id": 101,
                      "observation_date": past + timedelta(days=2)},
        "calibration": {**common, "seed": 3, "filter_name": "rp", "frame_number": 3, "request_id": 102,
                        "observation_date": past + timedelta(days=4), "target_name": "BIAS"},
        "proprietary": {**common, "seed": 4, "filter_name": "rp", "frame_number": 4, "request_id": 103,
                        "observation_date": past + timedelta(days=6), "proposal_id": PRIVATE_PROPOSAL,
                        "public_date": NOW + timedelta(days=300)},
        "south": {**common, "seed": 5, "filter_name": "B", "frame_number": 5, "request_id": 104,
                  "observation_date": past + timedelta(days=8), "target_name": "NGC 2808",
                  "ra": 138.0129, "dec": -64.8635, "site_id": "coj", "instrument_id": "fa12",
                  "proposal_id": "LCO2025A-100"},
    }
    basenames = {}
    for role, arguments in specs.items():
        frame = make_frame(**arguments)
        if role == "calibration":
            frame["SCI"].header["OBSTYPE"] = "BIAS"
        basenames[role] = frame["SCI"].header["ORIGNAME"][:-3] + "e91"
        write_frame(frame, root / f"{basenames[role]}.fits.fz")
    indexed = {frame.basename: frame for frame in index_directory()}
    return ArchiveFiles(**{role: indexed[basename] for role, basename in basenames.items()})
