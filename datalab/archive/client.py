"""The one client of the observatory archive's frames API (see docs/archive-api.md).

Every request has a timeout; only transient failures (connection errors, timeouts, 5xx, 429) are
retried, with exponential backoff and ``Retry-After`` honoured; anything else fails at once.
Downloads are verified (size, md5, FITS) before they enter the frame cache, and a cached file is
handed out only after the archive confirmed that the caller's token can see the frame.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from astropy.io import fits
from django.conf import settings

from data_operations.errors import OperationError, TransientError
from datalab.archive.frame_cache import FrameCache, cache_key
from datalab.observability.metrics import record_bytes_downloaded, record_frame_cache_lookup

logger = logging.getLogger(__name__)

RETRY_AFTER_CAP_SECONDS = 60.0
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
_TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _RetryableDownload(Exception):
    """A download that arrived damaged (truncated, wrong md5): worth fetching again."""


def not_found_error(basename: str) -> OperationError:
    return OperationError(
        f"The archive could not find frame {basename}, or it is not visible with your archive token."
    )


def _retry_after_seconds(response: requests.Response) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _short_reason(error: BaseException) -> str:
    if isinstance(error, requests.Timeout):
        return "the request timed out"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the download was cut off"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    return str(error) or type(error).__name__


def _choose_version(record: dict[str, Any]) -> dict[str, Any]:
    """The version the record's ``url`` points at, else the first one (or {} without versions)."""
    versions = record.get("version_set") or []
    url = record.get("url")
    for version in versions:
        if url and version.get("url") == url:
            return version
    return versions[0] if versions else {}


def _is_fits(path: Path) -> bool:
    """True when astropy can read every HDU header (pixel data is not decompressed here)."""
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
            return len(hdul) > 0
    except (OSError, ValueError, TypeError, IndexError, KeyError):
        return False


class ArchiveClient:
    """Talks to one archive with one token.

    Parameters:
        base_url (str): the frames API root, e.g. ``http://127.0.0.1:8000/archive/``.
        token (str | None): sent as ``Authorization: Token <token>`` to the archive's own host only
            (never to a presigned download URL on another host); None or "" sends no header.
        timeout (float): seconds for connecting and for each read.
        max_retries (int): retries after the first attempt of a transient failure.
        backoff (float): first retry delay in seconds, doubled on each further retry.
        cache (FrameCache): where verified frames are kept.
        sleep (Callable[[float], None]): injectable for tests.
    """

    def __init__(
        self, *, base_url: str, token: str | None, timeout: float, max_retries: int, backoff: float,
        cache: FrameCache, retry_after_cap: float = RETRY_AFTER_CAP_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token or None
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.cache = cache
        self.retry_after_cap = retry_after_cap
        self.sleep = sleep
        self.http = requests.Session()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ArchiveClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- metadata -------------------------------------------------------------------------
    def find_frame(self, basename: str) -> dict[str, Any]:
        """The archive's record of ``basename`` as this token sees it; OperationError if absent."""
        payload = self._get_json(f"{self.base_url}frames/", params={"basename_exact": basename},
                                 basename=basename)
        for record in payload.get("results") or []:
            if isinstance(record, dict) and record.get("basename") == basename:
                return record
        raise not_found_error(basename)

    def frame_headers(self, frame_id: int) -> dict[str, Any]:
        """The SCI header keywords of frame ``frame_id`` (``data`` of the headers endpoint)."""
        payload = self._get_json(f"{self.base_url}frames/{int(frame_id)}/headers/",
                                 basename=f"with archive id {frame_id}")
        headers = payload.get("data")
        if not isinstance(headers, dict):
            raise OperationError(f"The archive returned no headers for frame with archive id {frame_id}.")
        return headers

    # --- files ----------------------------------------------------------------------------
    def fetch_frame(self, basename: str) -> Path:
        """Local path of a verified copy of ``basename`` in the frame cache.

        The archive is asked first, with this client's token, whether the frame is visible, so a
        file cached for another user is never handed to a caller who could not fetch it.
        """
        record = self.find_frame(basename)
        version = _choose_version(record)
        filename = str(record.get("filename") or "")
        extension = version.get("extension") or (".fits.fz" if filename.endswith(".fz") else ".fits")
        key = cache_key(basename=basename, md5=version.get("md5"), frame_id=record.get("id"),
                        extension=extension)
        cached = self.cache.lookup(key)
        if cached is not None:
            record_frame_cache_lookup(hit=True)
            return cached
        with self.cache.key_lock(key):
            cached = self.cache.lookup(key)  # another process may have fetched it while we waited
            record_frame_cache_lookup(hit=cached is not None)
            if cached is not None:
                return cached
            url = record.get("url") or version.get("url")
            if not url:
                raise OperationError(f"The archive gave no download URL for frame {basename}.")
            return self._download(url=url, key=key, basename=basename, expected_md5=version.get("md5"))

    def _download(self, *, url: str, key: str, basename: str, expected_md5: str | None) -> Path:
        reason = "no attempt was made"
        for attempt in range(self.max_retries + 1):
            temporary = self.cache.temporary_path(key)
            try:
                self._download_to(url, temporary, basename=basename, expected_md5=expected_md5)
                if not _is_fits(temporary):
                    raise OperationError(
                        f"The archive returned something that is not a FITS file for frame {basename}."
                    )
                return self.cache.commit(temporary, key)
            except _RetryableDownload as damaged:
                reason = str(damaged)
            except _TRANSIENT_EXCEPTIONS as error:
                reason = _short_reason(error)
            finally:
                temporary.unlink(missing_ok=True)
            logger.warning("download of %s failed (%s), attempt %d", basename, reason, attempt + 1)
            if attempt < self.max_retries:
                self.sleep(self._backoff_delay(attempt))
        raise TransientError(f"The archive is unavailable: {reason}.")

    def _download_to(self, url: str, temporary: Path, *, basename: str, expected_md5: str | None) -> None:
        """Stream ``url`` into ``temporary``; raise _RetryableDownload if the body arrived damaged."""
        response = self._request(url, basename=basename, stream=True)
        with response:
            declared = response.headers.get("Content-Length")
            # With a Content-Encoding the declared length is of the encoded body, not the file.
            expected_size = int(declared) if declared and declared.isdigit() and \
                not response.headers.get("Content-Encoding") else None
            digest = hashlib.md5(usedforsecurity=False)
            written = 0
            with open(temporary, "wb") as output:
                for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_BYTES):
                    output.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
        record_bytes_downloaded(written)
        if expected_size is not None and written != expected_size:
            raise _RetryableDownload(f"the download was truncated ({written} of {expected_size} bytes)")
        if expected_md5 and digest.hexdigest() != expected_md5.lower():
            raise _RetryableDownload("the downloaded file failed its md5 check")

    # --- HTTP -----------------------------------------------------------------------------
    def _get_json(self, url: str, *, basename: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._request(url, basename=basename, params=params)
        with response:
            try:
                payload = response.json()
            except ValueError as error:
                raise TransientError("The archive is unavailable: it answered with invalid JSON.") from error
        if not isinstance(payload, dict):
            raise TransientError("The archive is unavailable: it answered with an unexpected document.")
        return payload

    def _headers_for(self, url: str) -> dict[str, str]:
        """The token goes only to the archive's own host, never to e.g. a presigned S3 URL."""
        if not self.token:
            return {}
        archive, target = urlsplit(self.base_url), urlsplit(url)
        if (archive.scheme, archive.netloc) != (target.scheme, target.netloc):
            return {}
        return {"Authorization": f"Token {self.token}"}

    def _backoff_delay(self, attempt: int) -> float:
        return self.backoff * (2**attempt)

    def _request(self, url: str, *, basename: str, params: dict[str, Any] | None = None,
                 stream: bool = False) -> requests.Response:
        """GET ``url``; retry transient failures; return a 2xx/3xx response or raise."""
        reason = "no attempt was made"
        for attempt in range(self.max_retries + 1):
            delay = self._backoff_delay(attempt)
            try:
                response = self.http.get(url, params=params, headers=self._headers_for(url),
                                         timeout=self.timeout, stream=stream)
            except _TRANSIENT_EXCEPTIONS as error:
                reason = _short_reason(error)
            else:
                status = response.status_code
                if status < 400:
                    return response
                response.close()
                if status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                    retry_after = _retry_after_seconds(response)
                    if retry_after is not None:
                        delay = min(retry_after, self.retry_after_cap)
                else:
                    raise self._permanent_error(status, basename)
            logger.warning("archive request %s failed (%s), attempt %d", url, reason, attempt + 1)
            if attempt < self.max_retries:
                self.sleep(delay)
        raise TransientError(f"The archive is unavailable: {reason}.")

    @staticmethod
    def _permanent_error(status: int, basename: str) -> OperationError:
        if status in (401, 403):
            return OperationError(
                f"The archive refused access to frame {basename} (HTTP {status}); check your archive token."
            )
        if status == 404:
            return not_found_error(basename)
        return OperationError(f"The archive rejected the request for frame {basename} (HTTP {status}).")


# --- the module-level API the worker uses -----------------------------------------------------
def default_cache() -> FrameCache:
    return FrameCache(directory=Path(settings.FRAME_CACHE_DIR), max_bytes=settings.FRAME_CACHE_MAX_BYTES)


def client_for(token: str | None) -> ArchiveClient:
    """A client configured from settings; ``token`` falls back to ``ARCHIVE_API_TOKEN``."""
    return ArchiveClient(
        base_url=settings.ARCHIVE_API,
        token=token or settings.ARCHIVE_API_TOKEN or None,
        timeout=settings.ARCHIVE_TIMEOUT_SECONDS,
        max_retries=settings.ARCHIVE_MAX_RETRIES,
        backoff=settings.ARCHIVE_BACKOFF_SECONDS,
        cache=default_cache(),
    )


def fetch_frame(*, basename: str, token: str | None) -> Path:
    """Local path of the frame's FITS file in the frame cache, fetched with ``token``'s rights."""
    with client_for(token) as client:
        return client.fetch_frame(basename)


def find_frame(*, basename: str, token: str | None) -> dict[str, Any]:
    """The archive's frame record for ``basename`` as ``token`` sees it."""
    with client_for(token) as client:
        return client.find_frame(basename)


def frame_headers(*, frame_id: int, token: str | None) -> dict[str, Any]:
    """The SCI header keywords of archive frame ``frame_id``."""
    with client_for(token) as client:
        return client.frame_headers(frame_id)
