"""One id per API request, carried into the worker message it enqueues and into every log line.

The id lives in a context variable: set by :class:`RequestIdMiddleware` for a web request, by
the Dramatiq middleware in ``worker_middleware`` for the message a worker thread is processing.
:class:`RequestIdLogFilter` stamps it on each log record, so one grep follows a request from the
API call to the worker that ran its operation.
"""
from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# A caller (proxy, front end) may send its own id; anything else is replaced by a fresh one.
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

_current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
request_logger = logging.getLogger("datalab.request")
# Probes and scrapes arrive every few seconds; their lines would drown the API's.
_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")


def current_request_id() -> str | None:
    return _current_request_id.get()


def bind_request_id(request_id: str | None) -> contextvars.Token:
    """Make ``request_id`` current; pass the returned token to :func:`reset_request_id`."""
    return _current_request_id.set(request_id)


def reset_request_id(token: contextvars.Token) -> None:
    _current_request_id.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` (or None) to every record, so formatters can always name it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class RequestIdMiddleware:
    """Binds an id to each request, echoes it in ``X-Request-ID`` and logs one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(HEADER, "")
        request_id = offered if _ACCEPTED_ID.match(offered) else new_request_id()
        token = bind_request_id(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            level = logging.DEBUG if request.path.startswith(_QUIET_PATHS) else logging.INFO
            request_logger.log(
                level, "%s %s %s", request.method, request.path, response.status_code,
                extra={"method": request.method, "path": request.path, "status": response.status_code,
                       "duration_ms": round(1000 * (time.monotonic() - started), 1)},
            )
            return response
        finally:
            reset_request_id(token)
