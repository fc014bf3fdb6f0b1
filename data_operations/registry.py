"""Finds operations by introspecting the ``data_operations`` package: a new module is a new operation.

Operations defined elsewhere (a site's own plugin module, a test) are offered through
:func:`register_operation`, which returns the function that withdraws them again.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from functools import cache

import data_operations
from data_operations.base import BaseDataOperation

_registered: dict[str, type[BaseDataOperation]] = {}


@cache
def _discovered() -> dict[str, type[BaseDataOperation]]:
    """Every concrete operation class of the package's modules keyed by its ``name()``, in module order."""
    found: dict[str, type[BaseDataOperation]] = {}
    for module_info in sorted(pkgutil.iter_modules(data_operations.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_") or module_info.ispkg:
            continue
        module = importlib.import_module(f"data_operations.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and _is_concrete_operation(cls):
                found[cls.name()] = cls
    return found


def _is_concrete_operation(cls: type) -> bool:
    return (issubclass(cls, BaseDataOperation) and not inspect.isabstract(cls)
            and not cls.__dict__.get("abstract", False))


def available_operations() -> dict[str, type[BaseDataOperation]]:
    """The package's operations, then those registered from elsewhere."""
    return {**_discovered(), **_registered}


def get_operation_class(name: str) -> type[BaseDataOperation] | None:
    return available_operations().get(name)


def register_operation(operation_class: type[BaseDataOperation]) -> Callable[[], None]:
    """Offer an operation defined outside the package; returns the function that withdraws it."""
    if not _is_concrete_operation(operation_class):
        raise TypeError(f"{operation_class.__name__} is not a concrete data operation.")
    name = operation_class.name()
    if name in available_operations():
        raise ValueError(f"An operation named '{name}' is already available.")
    _registered[name] = operation_class
    return lambda: _registered.pop(name, None)
