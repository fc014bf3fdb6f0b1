"""Checks on what clients name as inputs, made when a request arrives rather than in a job later.

A basename names an archive frame or a Datalab output: letters, digits and ``. _ - +`` only, so a
hostile name (a path, a NUL byte, a lone surrogate, a megabyte of text) is a 400 at once instead of
an archive query, a cache path or a database error.
"""
from __future__ import annotations

import re
from typing import Any

from data_operations.errors import InputValidationError
from data_operations.registry import get_operation_class

MAX_BASENAME_LENGTH = 200
_BASENAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._+-]{{0,{MAX_BASENAME_LENGTH - 1}}}")
BASENAME_RULE = (f"must be 1 to {MAX_BASENAME_LENGTH} letters, digits, '.', '_', '-' or '+', "
                 "starting with a letter or digit")


def is_valid_basename(value: Any) -> bool:
    return isinstance(value, str) and _BASENAME.fullmatch(value) is not None


def check_basename(value: Any, *, where: str) -> str:
    """``value`` if it is a sane basename; InputValidationError naming ``where`` otherwise."""
    if not isinstance(value, str):
        raise InputValidationError(f"{where}: 'basename' must be a string.")
    if not is_valid_basename(value):
        raise InputValidationError(f"{where}: 'basename' {BASENAME_RULE}.")
    return value


def check_file_items(items: Any, *, where: str) -> None:
    """Every ``{"basename": ...}`` item of a list of input files names a sane basename."""
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, dict) and "basename" in item:
            check_basename(item["basename"], where=where)


def check_operation_inputs(input_data: Any, *, operation: str) -> None:
    """The file lists of an operation's ``input_data`` (any input whose value is a list of items)."""
    if isinstance(input_data, dict):
        for key, value in input_data.items():
            check_file_items(value, where=f"{operation} '{key}'")


def without_null_inputs(operation: str, input_data: Any) -> Any:
    """``input_data`` without explicit nulls for inputs that are not files: null means "the default".

    An explicit ``null`` would otherwise pass validation and reach the operation as None.
    """
    operation_class = get_operation_class(operation)
    if operation_class is None or not isinstance(input_data, dict):
        return input_data
    specs = operation_class.input_specs()
    return {key: value for key, value in input_data.items()
            if not (value is None and key in specs and specs[key].get("type") != "fits")}
