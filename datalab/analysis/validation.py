"""Reading an analysis request body; every problem is an InputValidationError (a 400 with its sentence)."""
from __future__ import annotations

import math
from typing import Any

from data_operations.errors import InputValidationError
from datalab.datalab_session.input_checks import check_basename

SOURCES = ("archive", "datalab")


class RequestBody:
    """The JSON body of one analysis request, read field by field with exact error sentences."""

    def __init__(self, action: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise InputValidationError("The request body must be a JSON object.")
        self.action = action
        self.data = data

    def _fail(self, key: str, reason: str) -> InputValidationError:
        return InputValidationError(f"{self.action}: '{key}' {reason}")

    def _present(self, key: str) -> Any:
        value = self.data.get(key)
        if value is None or value == "":
            raise InputValidationError(f"{self.action} needs '{key}'.")
        return value

    def basename(self) -> str:
        value = self._present("basename")
        if not isinstance(value, str):
            raise self._fail("basename", "must be a string.")
        return check_basename(value, where=self.action)

    def source(self) -> str:
        value = self.data.get("source") or "archive"  # archive items from older clients carry no source
        if value not in SOURCES:
            raise self._fail("source", "must be 'archive' or 'datalab'.")
        return value

    def number(self, key: str, *, default: float | None = None, positive: bool = False,
               maximum: float | None = None) -> float:
        """A finite number (a numeric string is accepted); ``positive`` demands > 0, ``maximum`` a bound."""
        if default is not None and self.data.get(key) in (None, ""):
            return default
        value = self._present(key)
        if isinstance(value, bool):
            raise self._fail(key, "must be a number.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._fail(key, "must be a number.") from None
        if not math.isfinite(number):
            raise self._fail(key, "must be a finite number.")
        if positive and number <= 0:
            raise self._fail(key, "must be greater than 0.")
        if maximum is not None and abs(number) > maximum:
            raise self._fail(key, f"must be at most {maximum:g} in size.")
        return number

    def whole_number(self, key: str, *, minimum: int, maximum: int) -> int:
        number = self.number(key)
        if number != int(number):
            raise self._fail(key, "must be a whole number.")
        if not minimum <= number <= maximum:
            raise self._fail(key, f"must be between {minimum} and {maximum}; got {int(number)}.")
        return int(number)

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if value in (0, 1, "true", "false"):
            return value in (1, "true")
        raise self._fail(key, "must be true or false.")
