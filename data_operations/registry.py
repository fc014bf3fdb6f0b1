"""Finds operations by introspecting the ``data_operations`` package: a new module is a new operation."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache

import data_operations
from data_operations.base import BaseDataOperation


@cache
def available_operations() -> dict[str, type[BaseDataOperation]]:
    """Every concrete operation class keyed by its ``name()``, in module order."""
    found: dict[str, type[BaseDataOperation]] = {}
    for module_info in sorted(pkgutil.iter_modules(data_operations.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_") or module_info.ispkg:
            continue
        module = importlib.import_module(f"data_operations.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseDataOperation)
                and cls.__module__ == module.__name__
                and not inspect.isabstract(cls)
                and not cls.__dict__.get("abstract", False)
            ):
                found[cls.name()] = cls
    return found


def get_operation_class(name: str) -> type[BaseDataOperation] | None:
    return available_operations().get(name)
