"""Caches and analysis TIFFs are kept within an age and a size, by the worker's periodic task or a command."""
from __future__ import annotations

import os
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

DAY = 24 * 3600


def cached(directory: Path, name: str, *, size: int, age_days: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"x" * size)
    used = time.time() - age_days * DAY
    os.utime(path, (used, used))
    return path


def stored_product(name: str, *, age_days: float, folder: str = "analysis") -> str:
    stored = default_storage.save(f"{folder}/{name}", ContentFile(b"tif"))
    made = time.time() - age_days * DAY
    os.utime(default_storage.path(stored), (made, made))
    return stored


@pytest.fixture
def caches(settings, tmp_path):
    settings.ANALYSIS_CACHE_DIR = tmp_path / "analysis_cache"
    settings.FRAME_CACHE_MAX_AGE_SECONDS = settings.ANALYSIS_CACHE_MAX_AGE_SECONDS = 14 * DAY
    settings.ANALYSIS_PRODUCT_MAX_AGE_SECONDS = 8 * DAY
    settings.FRAME_CACHE_MAX_BYTES = settings.ANALYSIS_CACHE_MAX_BYTES = 10_000
    return settings


def test_retention_removes_old_and_over_budget_files_and_keeps_the_rest(caches):
    frame_dir, analysis_dir = caches.FRAME_CACHE_DIR, caches.ANALYSIS_CACHE_DIR
    old_frame = cached(frame_dir, "old.fits.fz", size=100, age_days=20)
    recent_frame = cached(frame_dir, "recent.fits.fz", size=100, age_days=1)
    # The analysis cache is over its 10 000-byte budget: the least recently used goes first.
    lru = cached(analysis_dir, "lru.npy", size=6_000, age_days=3)
    mru = cached(analysis_dir, "mru.npy", size=6_000, age_days=2)
    old_tif = stored_product("old.tif", age_days=9)
    new_tif = stored_product("new.tif", age_days=7)
    old_cone = stored_product("old.ecsv.gz", age_days=31, folder="gaia-cache")
    new_cone = stored_product("new.ecsv.gz", age_days=29, folder="gaia-cache")

    out = StringIO()
    call_command("apply_retention", stdout=out)
    assert out.getvalue().splitlines() == ["frame cache: 1 file(s) removed", "analysis cache: 1 file(s) removed",
                                           "analysis products: 1 file(s) removed", "gaia cache: 1 file(s) removed"]
    assert not old_frame.exists() and recent_frame.exists()
    assert not lru.exists() and mru.exists()
    assert not default_storage.exists(old_tif) and default_storage.exists(new_tif)
    assert not default_storage.exists(old_cone) and default_storage.exists(new_cone)


def test_retention_runs_periodically_in_every_worker():
    assert ("datalab.retention.apply_retention", "RETENTION_SWEEP_SECONDS") in django_settings.WORKER_PERIODIC_TASKS
    # Analysis TIFFs outlive the longest-lived signed link to them by default.
    assert django_settings.ANALYSIS_PRODUCT_MAX_AGE_SECONDS >= (django_settings.OUTPUT_URL_TTL_SECONDS
                                                               + django_settings.OUTPUT_URL_WINDOW_SECONDS)
