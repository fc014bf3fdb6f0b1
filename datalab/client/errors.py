"""Exceptions raised by the client; each carries the sentence the service answered with."""
from __future__ import annotations

from typing import Any


class DatalabError(Exception):
    """A call the service refused or could not answer.

    ``message`` is the service's own ``{"error": ...}`` sentence when it sent one (what a scientist
    should read), ``status`` the HTTP status (None when no answer arrived at all).
    """

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url

    def __str__(self) -> str:
        return self.message if self.status is None else f"{self.message} (HTTP {self.status})"


class ServiceUnreachable(DatalabError):
    """No answer from the service (connection refused, timed out) even after retrying."""


class OperationFailed(DatalabError):
    """An operation ended FAILED; ``message`` is the operation's own explanation."""

    def __init__(self, operation: Any) -> None:
        message = operation.message or "The operation failed without a message."
        super().__init__(message)
        self.operation = operation

    def __str__(self) -> str:
        return f"Operation {self.operation.id} ({self.operation.name}) failed: {self.message}"


class WaitTimeout(DatalabError, TimeoutError):
    """An operation was still running when the caller's time limit ran out."""
