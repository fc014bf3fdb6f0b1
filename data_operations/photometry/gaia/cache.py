"""Gaia cones kept for 30 days in durable storage, shared by every worker.

A cone of the Galactic plane can hold tens of thousands of rows, so answers are stored as
gzip-compressed ECSV in a ``ConeStore`` (the service's output storage in production) rather than
in the volatile Redis cache. The key names the cone, the release, the columns and the cache
version; an entry older than its maximum age is fetched again. Failures raise before anything is
stored, so they are never cached.
"""
from __future__ import annotations

import gzip
import io
import time
from collections.abc import Callable
from typing import Protocol

from astropy.table import Table

from data_operations.photometry.gaia.provider import GAIA_COLUMNS, ConeQuery, GaiaProvider

#: Bump when the rows' meaning changes (columns, joins, cuts), so old entries are never read.
CACHE_VERSION = 1
MAX_AGE_SECONDS = 30 * 86400.0


class ConeStore(Protocol):
    """Bytes by key in durable storage."""

    def load(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or None."""

    def save(self, key: str, content: bytes) -> None:
        """Store ``content`` under ``key``, replacing what was there."""


class MemoryConeStore:
    """A ConeStore in a dict (for work without a service, and for tests)."""

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}

    def load(self, key: str) -> bytes | None:
        return self.entries.get(key)

    def save(self, key: str, content: bytes) -> None:
        self.entries[key] = content


def encode(table: Table, fetched_at: float) -> bytes:
    stamped = table.copy(copy_data=False)
    stamped.meta["fetched_at_unix"] = fetched_at
    text = io.StringIO()
    stamped.write(text, format="ascii.ecsv")
    return gzip.compress(text.getvalue().encode(), compresslevel=6)


def decode(content: bytes) -> Table:
    return Table.read(gzip.decompress(content).decode(), format="ascii.ecsv")


class CachedGaiaProvider:
    """``inner``'s cones, answered from ``store`` while younger than ``max_age_seconds``."""

    def __init__(self, inner: GaiaProvider, store: ConeStore, *, max_age_seconds: float = MAX_AGE_SECONDS,
                 version: int = CACHE_VERSION, clock: Callable[[], float] = time.time):
        self.inner, self.store = inner, store
        self.release = inner.release
        self.max_age_seconds, self.version, self.clock = max_age_seconds, version, clock

    def key(self, query: ConeQuery) -> str:
        return query.cache_key(release=self.release, version=self.version, columns=GAIA_COLUMNS)

    def cone(self, query: ConeQuery) -> Table:
        key = self.key(query)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        table = self.inner.cone(query)
        self.store.save(key, encode(table, self.clock()))
        return table

    def _fresh(self, key: str) -> Table | None:
        content = self.store.load(key)
        if content is None:
            return None
        try:
            table = decode(content)
        except (OSError, ValueError, EOFError):  # a damaged entry is fetched again
            return None
        fetched_at = table.meta.pop("fetched_at_unix", None)
        if not isinstance(fetched_at, (int, float)) or self.clock() - fetched_at > self.max_age_seconds:
            return None
        return table
