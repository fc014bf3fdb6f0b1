"""The base class every data operation derives from.

An operation is a small subclass: a name, a description, a wizard description (the inputs the
front end renders) and one method, :meth:`BaseDataOperation.operate`, that does the science.
Validation of ``input_data`` against the wizard description, defaults and the canonical form used
to recognise identical requests live here, once, for every operation.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from data_operations.admission import estimated_bytes, over_limit_message
from data_operations.context import DataFile, OperationContext, OutputFile
from data_operations.errors import InputValidationError, OperationError

FILE_SOURCES = ("archive", "datalab")
# Item keys that identify a file; everything else in an item is display data for the front end.
FILE_IDENTITY_KEYS = ("source", "basename")
CHANNEL_KEYS = ("color", "zmin", "zmax")


@dataclass
class OperationResult:
    """What :meth:`BaseDataOperation.operate` returns: files to publish, data, and notes for the user."""

    output_files: list[OutputFile] = field(default_factory=list)
    output_data: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Tables offered for download, linked from ``output_data`` entries under ``downloads``.
    data_files: list[DataFile] = field(default_factory=list)


class BaseDataOperation(ABC):
    """One kind of data operation. Subclasses live one per module in ``data_operations``."""

    #: Set to True on intermediate classes that the registry must not list.
    abstract: ClassVar[bool] = False
    #: Whole images of the output's size held besides the pixel bands (result, previews, writing).
    whole_image_copies: ClassVar[float] = 2.0

    def __init__(self, input_data: dict[str, Any]):
        self.input_data = input_data

    # --- description -----------------------------------------------------------------------
    @staticmethod
    @abstractmethod
    def name() -> str:
        """The exact name users and the front end send."""

    @staticmethod
    @abstractmethod
    def description() -> str:
        """One paragraph for the wizard."""

    @classmethod
    @abstractmethod
    def wizard_description(cls) -> dict[str, Any]:
        """``{"name", "description", "inputs": {key: spec}}`` as the front end renders it."""

    @abstractmethod
    def operate(self, context: OperationContext) -> OperationResult:
        """Compute the outputs; raise OperationError with a clear sentence on bad data."""

    @classmethod
    def wizard(cls, inputs: dict[str, dict[str, Any]], *, category: str = "image") -> dict[str, Any]:
        """The wizard description of this operation around its ``inputs``."""
        return {"name": cls.name(), "description": cls.description(), "category": category, "inputs": inputs}

    def admit(self, context: OperationContext, *, shape: tuple[int, int], frame_count: int) -> None:
        """Refuse, before decoding any pixel, an operation that would not fit in the worker's memory."""
        limit = getattr(context, "memory_limit_bytes", None)
        if not limit:
            return
        needed = estimated_bytes(shape=shape, frame_count=frame_count, budget_bytes=context.memory_budget_bytes,
                                 whole_image_copies=self.whole_image_copies)
        if needed > limit:
            raise OperationError(over_limit_message(operation=self.name(), shape=shape, frame_count=frame_count,
                                                    needed_bytes=needed, limit_bytes=limit))

    # --- inputs ----------------------------------------------------------------------------
    @classmethod
    def input_specs(cls) -> dict[str, dict[str, Any]]:
        return cls.wizard_description().get("inputs", {})

    def value(self, key: str) -> Any:
        """The value of an input, or its wizard default when absent or null."""
        if self.input_data.get(key) is not None:
            return self.input_data[key]
        return self.input_specs()[key].get("default")

    def files(self, key: str = "input_files") -> list[dict[str, Any]]:
        return list(self.input_data.get(key) or [])

    @classmethod
    def validate_input_data(cls, input_data: Any, *, max_files: int = 500) -> None:
        """Raise InputValidationError with a sentence naming the offending input."""
        if not isinstance(input_data, dict):
            raise InputValidationError("input_data must be an object keyed by input name.")
        total_files = 0
        for key, spec in cls.input_specs().items():
            label = spec.get("name", key)
            if key not in input_data or input_data[key] is None:
                if spec.get("type") == "fits" and spec.get("minimum", 1) > 0:
                    raise InputValidationError(f"{cls.name()} needs '{key}' ({label}).")
                if spec.get("required") and "default" not in spec:
                    raise InputValidationError(f"{cls.name()} needs '{key}' ({label}).")
                continue
            value = input_data[key]
            validator = _VALIDATORS.get(spec.get("type", ""))
            if validator is None:
                continue
            validator(cls.name(), key, spec, value)
            if spec.get("type") == "fits":
                total_files += len(value)
        if total_files > max_files:
            raise InputValidationError(
                f"{cls.name()} accepts at most {max_files} input files in all; got {total_files}."
            )

    @classmethod
    def canonical_inputs(cls, input_data: dict[str, Any]) -> dict[str, Any]:
        """Inputs reduced to what determines the result, with defaults filled in."""
        canonical: dict[str, Any] = {}
        for key, spec in cls.input_specs().items():
            value = input_data.get(key)
            if value is None:  # absent and null both mean the default
                value = spec.get("default")
            if spec.get("type") == "fits":
                value = [
                    {k: item[k] for k in (*FILE_IDENTITY_KEYS, *CHANNEL_KEYS) if k in item}
                    for item in (value or [])
                ]
            canonical[key] = value
        return canonical

    @classmethod
    def cache_key(cls, input_data: dict[str, Any]) -> str:
        """A digest equal for requests that must produce the same result."""
        payload = json.dumps(
            {"operation": cls.name(), "inputs": cls.canonical_inputs(input_data)},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()


def fits_input(name: str, description: str, *, minimum: int = 1, maximum: int = 999,
               **options: Any) -> dict[str, Any]:
    """The wizard spec of a list of FITS files (the front end's image picker)."""
    return {"name": name, "description": description, "type": "fits", "minimum": minimum, "maximum": maximum,
            **options}


# --- per-type validators ------------------------------------------------------------------------
def _fail(operation: str, key: str, reason: str) -> None:
    raise InputValidationError(f"{operation}: '{key}' {reason}")


def _validate_fits(operation: str, key: str, spec: dict[str, Any], value: Any) -> None:
    if not isinstance(value, list):
        _fail(operation, key, "must be a list of file items.")
    minimum = spec.get("minimum", 1)
    maximum = spec.get("maximum")
    if len(value) < minimum:
        _fail(operation, key, f"needs at least {minimum} file(s); got {len(value)}.")
    if maximum is not None and len(value) > maximum:
        _fail(operation, key, f"accepts at most {maximum} file(s); got {len(value)}.")
    seen_filters = set()
    for position, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            _fail(operation, key, f"item {position} must be an object with 'source' and 'basename'.")
        basename = item.get("basename")
        if not isinstance(basename, str) or not basename.strip():
            _fail(operation, key, f"item {position} has no 'basename'.")
        source = item.get("source", "archive")
        if source not in FILE_SOURCES:
            _fail(operation, key, f"item {position} has source '{source}'; expected 'archive' or 'datalab'.")
        item_filter = item.get("filter")
        if item_filter:
            options = spec.get("filter_options")
            if options and item_filter not in options:
                _fail(operation, key, f"item {position} ({basename}) has filter '{item_filter}'; "
                      f"allowed: {', '.join(options)}.")
            seen_filters.add(item_filter)
        if spec.get("color_picker"):
            _validate_channel(operation, key, position, item, spec)
    if spec.get("single_filter") and len(seen_filters) > 1:
        _fail(operation, key, f"must all share one filter; got {', '.join(sorted(seen_filters))}.")


def _validate_channel(operation: str, key: str, position: int, item: dict, spec: dict) -> None:
    color = item.get("color")
    if not isinstance(color, dict) or any(
        not _is_number(color.get(c)) or not 0 <= color.get(c) <= 255 for c in ("r", "g", "b")
    ):
        _fail(operation, key, f"item {position} needs 'color' with r, g, b between 0 and 255.")
    if spec.get("include_custom_scale"):
        zmin, zmax = item.get("zmin"), item.get("zmax")
        if zmin is not None or zmax is not None:
            if not (_is_number(zmin) and _is_number(zmax)) or zmin >= zmax:
                _fail(operation, key, f"item {position} needs numeric 'zmin' < 'zmax'.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validate_number(operation: str, key: str, spec: dict[str, Any], value: Any) -> None:
    if not _is_number(value):
        _fail(operation, key, "must be a finite number.")
    if spec["type"] == "int" and int(value) != value:
        _fail(operation, key, "must be a whole number.")
    if spec.get("minimum") is not None and value < spec["minimum"]:
        _fail(operation, key, f"must be at least {spec['minimum']}.")
    if spec.get("maximum") is not None and value > spec["maximum"]:
        _fail(operation, key, f"must be at most {spec['maximum']}.")


def _validate_choice(operation: str, key: str, spec: dict[str, Any], value: Any) -> None:
    if not isinstance(value, str):
        _fail(operation, key, "must be a string.")
    options = spec.get("options")
    if options and value not in options:
        _fail(operation, key, f"must be one of {', '.join(map(str, options))}; got '{value}'.")


def _validate_string(operation: str, key: str, spec: dict[str, Any], value: Any) -> None:
    """A free-text input: its options, and the ``max_length`` and ``pattern`` its spec may set."""
    _validate_choice(operation, key, spec, value)
    limit = spec.get("max_length")
    if limit is not None and len(value) > limit:
        _fail(operation, key, f"must be at most {limit} characters long; got {len(value)}.")
    pattern = spec.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        _fail(operation, key, f"may hold only {spec.get('pattern_description', 'the characters its pattern allows')}.")


def _validate_source(operation: str, key: str, spec: dict[str, Any], value: Any) -> None:
    if not isinstance(value, dict) or not _is_number(value.get("ra")) or not _is_number(value.get("dec")):
        _fail(operation, key, "must be an object with numeric 'ra' and 'dec'.")
    if not (0 <= value["ra"] < 360 and -90 <= value["dec"] <= 90):
        _fail(operation, key, "has 'ra' outside 0..360 or 'dec' outside -90..90.")


_VALIDATORS = {
    "fits": _validate_fits,
    "int": _validate_number,
    "float": _validate_number,
    "select": _validate_choice,
    "string": _validate_string,
    "source": _validate_source,
}
