"""HTTP for the client: timeouts, retries with backoff on transient failures, errors as exceptions.

A 503 (the service is briefly unable to answer, e.g. its database restarting) and a connection
that could not be made are retried with exponential backoff, honouring ``Retry-After``; any other
4xx fails at once with the service's ``{"error"}`` sentence. A request that may already have
reached the service (a read timeout, a 502/504 from a proxy) is retried only when repeating it is
harmless: GET, PUT, PATCH and DELETE, never POST.
"""
from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError

from datalab import __version__
from datalab.client.errors import DatalabError, ServiceUnreachable

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
# Answers that mean "nothing was done, come back later": safe to repeat for every method.
RETRY_ANY_METHOD = frozenset({429, 503})
# Answers from a proxy that may hide a request the service did process: repeat idempotent calls only.
RETRY_IDEMPOTENT = frozenset({502, 504})
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


def retry_after_seconds(response: requests.Response) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
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


def never_reached_service(error: requests.RequestException) -> bool:
    """True when the connection itself failed, so the request cannot have been processed."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError):
        return False
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    return isinstance(reason, ConnectTimeoutError)  # urllib3's NewConnectionError is one too


def error_message(response: requests.Response) -> str:
    """The service's sentence from an error answer, or a plain description of the answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        for key in ("error", "detail", "message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
    path = urlsplit(response.url or "").path or "/"
    return f"The service answered {response.status_code} {response.reason or ''} to {path}.".replace(" .", ".")


def describe_failure(error: requests.RequestException, url: str) -> str:
    host = urlsplit(url).netloc or url
    if isinstance(error, requests.Timeout):
        return f"{host} did not answer in time."
    return f"Could not connect to {host}; is the service running and the URL right?"


class Transport:
    """One authenticated HTTP conversation with one service (the Datalab API or an archive).

    Parameters:
        token: sent as ``Authorization: Token <token>``; None sends no header.
        timeout: seconds allowed for connecting and for each read.
        max_retries: further attempts after a transient failure.
        backoff: first retry delay in seconds, doubled on each further retry.
        retry_after_cap: the longest ``Retry-After`` wait honoured, in seconds.
        sleep: how to wait between attempts (injectable for tests).
    """

    def __init__(
        self, *, token: str | None, timeout: float = 60.0, max_retries: int = 4, backoff: float = 0.5,
        retry_after_cap: float = 30.0, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.token = token or None
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.retry_after_cap = retry_after_cap
        self.sleep = sleep
        self.http = requests.Session()
        self.http.headers["User-Agent"] = f"datalab-client/{__version__}"

    # --- requests -------------------------------------------------------------------------------
    def request_json(
        self, method: str, url: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one API call and return its decoded JSON (None for an empty answer); raise on 4xx/5xx."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        response = self.send(method, url, headers=headers, json=body, params=params)
        if response.status_code >= 400:
            raise DatalabError(error_message(response), status=response.status_code, url=url)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise DatalabError(f"The service's answer to {urlsplit(url).path} is not JSON.",
                               status=response.status_code, url=url) from None

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, retried while the failure is transient and repeating is harmless."""
        method = method.upper()
        attempt = 0
        while True:
            try:
                response = self.http.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as error:
                retryable = method in IDEMPOTENT_METHODS or never_reached_service(error)
                if attempt < self.max_retries and retryable:
                    self.sleep(self.backoff * 2 ** attempt)
                    attempt += 1
                    continue
                raise ServiceUnreachable(describe_failure(error, url), url=url) from error
            status = response.status_code
            transient = status in RETRY_ANY_METHOD or (status in RETRY_IDEMPOTENT and method in IDEMPOTENT_METHODS)
            if not transient or attempt >= self.max_retries:
                return response
            asked = retry_after_seconds(response)
            delay = self.backoff * 2 ** attempt if asked is None else min(asked, self.retry_after_cap)
            response.close()
            self.sleep(delay)
            attempt += 1

    # --- files ----------------------------------------------------------------------------------
    def download(self, url: str, destination: Path, *, authenticated: bool = False) -> Path:
        """Save ``url`` at ``destination`` whole or not at all (a temporary name, then a rename).

        Signed output URLs work without the token, and may point at another host (object storage),
        so the token is sent only when ``authenticated`` is asked for. A body cut short is fetched
        again like any other transient failure.
        """
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        headers = {"Authorization": f"Token {self.token}"} if authenticated and self.token else {}
        for attempt in range(self.max_retries + 1):
            response = self.send("GET", url, headers=headers, stream=True)
            if response.status_code >= 400:
                raise DatalabError(error_message(response), status=response.status_code, url=url)
            try:
                self._write_atomically(response, destination)
                return destination
            except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError, _Truncated) as error:
                if attempt >= self.max_retries:
                    raise ServiceUnreachable(f"The download of {destination.name} was cut off: {error}",
                                             url=url) from error
                self.sleep(self.backoff * 2 ** attempt)
            finally:
                response.close()
        raise AssertionError("unreachable")  # the loop returns or raises

    @staticmethod
    def _write_atomically(response: requests.Response, destination: Path) -> None:
        # The length on the wire equals the file's only when no content encoding was applied.
        expected = None if response.headers.get("Content-Encoding") else response.headers.get("Content-Length")
        temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
        try:
            written = 0
            with open(temporary, "xb") as out:  # the umask's permissions, unlike mkstemp's 0600
                for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                    out.write(chunk)
                    written += len(chunk)
            if expected is not None and expected.isdigit() and int(expected) != written:
                raise _Truncated(f"{written} of {expected} bytes arrived")
            os.replace(temporary, destination)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


class _Truncated(Exception):
    """A body shorter than its Content-Length."""
