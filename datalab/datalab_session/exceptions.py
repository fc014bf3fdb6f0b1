"""One exception handler: every client error becomes ``{"error": "<sentence>"}`` with a 4xx."""
from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from data_operations.errors import InputValidationError
from datalab.parsers import NestingTooDeep

logger = logging.getLogger(__name__)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again shortly."


def _first_message(detail: Any, prefix: str = "") -> str:
    """Flatten DRF's nested error details into one readable sentence."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            label = "" if key in ("non_field_errors", "detail", "error") else f"{key}: "
            return _first_message(value, prefix + label)
        return prefix.rstrip(": ")
    if isinstance(detail, (list, tuple)):
        return _first_message(detail[0], prefix) if detail else prefix.rstrip(": ")
    return f"{prefix}{detail}"


def error_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, InputValidationError):
        exc = exceptions.ValidationError(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DataError):
        exc = exceptions.ValidationError("A value in the request is out of range (a date, a number or a text).")
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc)
        exc = ServiceUnavailable("The database is unavailable; try again shortly.")

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ParseError) and not isinstance(exc, NestingTooDeep):
        message = "The request body is not valid JSON."
    else:
        message = _first_message(response.data)
    response.data = {"error": message}
    return response
