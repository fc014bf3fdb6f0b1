"""A user's archive frame as a local file, with the archive's say on whether they may read it.

Analysis calls run in web threads. When the archive is the embedded one, asking it over HTTP
would have the web server wait on itself (every thread busy in analysis, none left to answer),
so its rule is applied in-process. With a remote archive, a user's right to a frame is
remembered for ``ARCHIVE_RIGHTS_CACHE_SECONDS``, so repeated analysis of a cached frame does not
ask the archive every time.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

from datalab.archive import client as archive_client

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
EMBEDDED_ARCHIVE_PATH = "/archive/"


def archive_is_embedded() -> bool:
    """True when ARCHIVE_API is this server's own local archive (``ARCHIVE_IN_PROCESS``, else guessed
    from a loopback host and the ``/archive/`` mount)."""
    explicit = getattr(settings, "ARCHIVE_IN_PROCESS", None)
    if explicit is not None:
        return bool(explicit)
    url = urlsplit(settings.ARCHIVE_API)
    return (url.hostname or "") in LOOPBACK_HOSTS and url.path.rstrip("/") + "/" == EMBEDDED_ARCHIVE_PATH


def _rights_key(token: str, basename: str) -> str:
    digest = hashlib.sha256(f"{settings.ARCHIVE_API}\0{token}\0{basename}".encode()).hexdigest()
    return f"datalab:archive-rights:{digest}"


def _embedded_frame(*, basename: str, token: str | None) -> Path:
    from datalab.local_archive.access import visible_frame_file  # the app is installed with the archive

    found = visible_frame_file(basename=basename, token=token)
    if found is None:
        raise archive_client.not_found_error(basename)
    return found[1]


def frame_path(*, basename: str, token: str | None) -> Path:
    """A readable local path of ``basename`` if ``token`` may see it; OperationError (absent or not
    visible) or TransientError (archive unavailable) otherwise."""
    if archive_is_embedded():
        return _embedded_frame(basename=basename, token=token)
    effective_token = token or settings.ARCHIVE_API_TOKEN or ""
    key = _rights_key(effective_token, basename)
    cached_name = cache.get(key)
    if cached_name:
        cached = archive_client.default_cache().lookup(cached_name)
        if cached is not None:
            return cached
    path = archive_client.fetch_frame(basename=basename, token=token)
    cache.set(key, path.name, settings.ARCHIVE_RIGHTS_CACHE_SECONDS)
    return path
