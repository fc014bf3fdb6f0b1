"""The frame cache: LRU eviction within a byte budget, and per-user scoping of cached frames."""
from __future__ import annotations

import os
import time

import pytest
from archive_fakes import tiny_fits_bytes

from data_operations.errors import OperationError
from datalab.archive.frame_cache import FrameCache, cache_key

BASENAME = "ogg2m001-ep04-20260101-0042-e91"


def put(cache: FrameCache, key: str, size: int, *, age_seconds: float | None = None):
    temporary = cache.temporary_path(key)
    temporary.write_bytes(b"x" * size)
    path = cache.commit(temporary, key)
    if age_seconds is not None:
        past = time.time() - age_seconds
        os.utime(path, (past, past))
    return path


def test_cache_key_follows_the_file_version():
    assert cache_key(basename=BASENAME, md5="ABC123", frame_id=7) == f"{BASENAME}.md5-abc123.fits.fz"
    assert cache_key(basename=BASENAME, md5=None, frame_id=7) == f"{BASENAME}.id-7.fits.fz"
    hostile = cache_key(basename="../../etc/passwd", md5=None, frame_id=1, extension=".fits")
    assert "/" not in hostile and not hostile.startswith(".")


def test_least_recently_used_file_is_evicted_first(tmp_path):
    cache = FrameCache(directory=tmp_path, max_bytes=300)
    put(cache, "a", 100, age_seconds=30)
    put(cache, "b", 100, age_seconds=20)
    put(cache, "c", 100, age_seconds=10)
    assert cache.lookup("a") is not None  # using "a" makes "b" the least recently used
    put(cache, "d", 100)
    assert sorted(path.name for path, _ in cache.cached_files()) == ["a", "c", "d"]
    assert cache.total_bytes() == 300


def test_file_just_fetched_is_kept_even_over_budget(tmp_path):
    cache = FrameCache(directory=tmp_path, max_bytes=300)
    put(cache, "old", 200, age_seconds=10)
    put(cache, "huge", 500)
    assert [path.name for path, _ in cache.cached_files()] == ["huge"]


def test_frame_being_fetched_is_not_evicted(tmp_path):
    cache = FrameCache(directory=tmp_path, max_bytes=150)
    put(cache, "busy", 100, age_seconds=30)
    with cache.key_lock("busy"):
        put(cache, "new", 100)
    assert sorted(path.name for path, _ in cache.cached_files()) == ["busy", "new"]
    put(cache, "newer", 10)
    assert sorted(path.name for path, _ in cache.cached_files()) == ["new", "newer"]


def test_abandoned_temporaries_are_removed_but_live_ones_kept(tmp_path):
    cache = FrameCache(directory=tmp_path, max_bytes=10**6)
    abandoned = cache.temporary_path("crashed")
    abandoned.write_bytes(b"half")
    live = cache.temporary_path("downloading")
    live.write_bytes(b"half")
    with cache.key_lock("downloading"):
        cache.evict()
    assert not abandoned.exists()
    assert live.exists()


def test_fetches_keep_the_cache_within_its_byte_bound(fake_archive, make_client):
    bodies = [tiny_fits_bytes(seed=seed) for seed in range(4)]
    bound = int(2.5 * max(len(body) for body in bodies))
    client = make_client(max_bytes=bound)
    for index, body in enumerate(bodies):
        fake_archive.add_frame(f"{BASENAME[:-7]}{index:04d}-e91", body)
    for index in range(4):
        path = client.fetch_frame(f"{BASENAME[:-7]}{index:04d}-e91")
        assert path.exists()  # the file just fetched is never the one evicted
        assert client.cache.total_bytes() <= bound
    assert len(client.cache.cached_files()) == 2


def test_proprietary_frame_is_not_served_from_cache_to_a_token_that_cannot_see_it(
    fake_archive, make_client, frame_bytes,
):
    fake_archive.add_frame(BASENAME, frame_bytes, visible_to={"alice-token"})
    alice_path = make_client("alice-token").fetch_frame(BASENAME)
    assert alice_path.read_bytes() == frame_bytes
    assert make_client("alice-token").fetch_frame(BASENAME) == alice_path  # from cache...
    assert fake_archive.hits["list"] == 2  # ...but only after asking the archive again

    for stranger in ("bob-token", None):
        with pytest.raises(OperationError) as raised:
            make_client(stranger).fetch_frame(BASENAME)
        assert str(raised.value) == (
            f"The archive could not find frame {BASENAME}, or it is not visible with your archive token."
        )
    assert fake_archive.hits["download"] == 1
    assert fake_archive.authorizations["list"][2:] == ["Token bob-token", None]
