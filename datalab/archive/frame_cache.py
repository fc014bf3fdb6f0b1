"""A bounded on-disk cache of archive frames, shared safely by concurrent worker processes.

Files enter only through :meth:`FrameCache.commit` (an atomic rename of a verified temporary
file), so a reader never sees a partial download. Per-key ``fcntl`` locks make two processes that
want the same frame download it once; one global lock serialises eviction. Least recently used
files (by mtime, touched on every use) are evicted when the cache exceeds its byte budget.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_DIR_NAME = ".locks"
TEMP_DIR_NAME = ".tmp"
EVICTION_LOCK_NAME = "eviction.lock"
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def cache_key(*, basename: str, md5: str | None, frame_id: int | None, extension: str = ".fits.fz") -> str:
    """File name of a frame version in the cache: a changed md5 (new version) is a new key."""
    version = f"md5-{md5.lower()}" if md5 else f"id-{frame_id}"
    safe_extension = extension if extension.startswith(".") else f".{extension}"
    return _UNSAFE_CHARACTERS.sub("_", f"{basename}.{version}{safe_extension}").lstrip(".")


@contextmanager
def _flock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path``; yields False if non-blocking and already held."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


class FrameCache:
    """Cache of frame files under ``directory``, kept at or below ``max_bytes`` by LRU eviction.

    Parameters:
        directory (Path): where cached files, ``.locks`` and ``.tmp`` live (one filesystem, so
            renames are atomic).
        max_bytes (int): byte budget of the cached files; the file just committed is never
            evicted, even when it alone exceeds the budget.
    """

    def __init__(self, *, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.lock_dir = self.directory / LOCK_DIR_NAME
        self.temp_dir = self.directory / TEMP_DIR_NAME
        for folder in (self.directory, self.lock_dir, self.temp_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        return self.directory / key

    def lookup(self, key: str) -> Path | None:
        """The cached file for ``key`` (its mtime touched, marking it recently used), or None."""
        path = self.path_for(key)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    @contextmanager
    def key_lock(self, key: str) -> Iterator[None]:
        """Exclusive lock for fetching ``key``: the holder downloads, the others wait and reuse."""
        with _flock(self.lock_dir / f"{key}.lock"):
            yield

    def temporary_path(self, key: str) -> Path:
        """A unique temporary file name for a download of ``key``; the caller removes it on failure."""
        return self.temp_dir / f"{key}~{uuid.uuid4().hex}.part"

    def commit(self, temporary: Path, key: str) -> Path:
        """Atomically move a verified download into place, then evict to stay within budget."""
        path = self.path_for(key)
        os.replace(temporary, path)
        os.utime(path)
        self.evict(keep=path)
        return path

    def cached_files(self) -> list[tuple[Path, os.stat_result]]:
        """Cached frame files with their stat (locks and temporaries excluded)."""
        entries = []
        for entry in os.scandir(self.directory):
            if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                try:
                    entries.append((Path(entry.path), entry.stat(follow_symlinks=False)))
                except FileNotFoundError:
                    continue  # evicted by another process meanwhile
        return entries

    def total_bytes(self) -> int:
        return sum(stat.st_size for _, stat in self.cached_files())

    def evict(self, *, keep: Path | None = None, max_age_seconds: float | None = None) -> list[Path]:
        """Delete least recently used files until the cache fits its budget; returns what went.

        With ``max_age_seconds``, files unused for longer go too, whatever the budget. A file whose
        key lock is held (being fetched or verified right now) is skipped.
        """
        removed: list[Path] = []
        unused_before = time.time() - max_age_seconds if max_age_seconds else None
        with _flock(self.lock_dir / EVICTION_LOCK_NAME):
            self._remove_abandoned_temporaries()
            entries = sorted(self.cached_files(), key=lambda item: item[1].st_mtime)
            total = sum(stat.st_size for _, stat in entries)
            for path, stat in entries:
                too_old = unused_before is not None and stat.st_mtime < unused_before
                if total <= self.max_bytes and not too_old:
                    break  # the rest were used more recently still
                if keep is not None and path == keep:
                    continue
                with _flock(self.lock_dir / f"{path.name}.lock", blocking=False) as acquired:
                    if not acquired:
                        continue
                    path.unlink(missing_ok=True)
                total -= stat.st_size
                removed.append(path)
        if removed:
            logger.info("frame cache evicted %d file(s), %d bytes remain", len(removed), total)
        return removed

    def _remove_abandoned_temporaries(self) -> None:
        """Remove temporaries left by a killed process: nobody holds their key lock any more."""
        for temporary in self.temp_dir.glob("*.part"):
            key = temporary.name.split("~", 1)[0]
            with _flock(self.lock_dir / f"{key}.lock", blocking=False) as acquired:
                if acquired:
                    temporary.unlink(missing_ok=True)
