"""Which compiled kernels this process runs: the C fast path, or the numpy/astropy fallback.

The C modules (``frames/_rice``, ``frames/_resample`` and ``kernels/_network``) are built when the
install can compile them; a machine without a compiler, or a failed build, installs without them. Every
caller asks here for a module and gets ``None`` when it is missing or when the environment
variable ``DATALAB_PURE_PYTHON_KERNELS`` is true (``1``, ``true``, ``yes`` or ``on``), and then takes
its numpy path, which gives the same results. The variable is read on every call, so a test (or
an operator) can switch paths without restarting the process.
"""
from __future__ import annotations

import functools
import importlib
import logging
import os
from types import ModuleType

PURE_PYTHON_VARIABLE = "DATALAB_PURE_PYTHON_KERNELS"
RICE_MODULE = "data_operations.frames._rice"
NETWORK_MODULE = "data_operations.kernels._network"
RESAMPLE_MODULE = "data_operations.frames._resample"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})

logger = logging.getLogger(__name__)


def pure_python_forced() -> bool:
    """True when the environment asks for the numpy fallback whatever is installed."""
    return os.environ.get(PURE_PYTHON_VARIABLE, "").strip().lower() in _TRUE_WORDS


@functools.cache
def _import_compiled(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError as error:  # not built on this machine: say so once, then use numpy
        logger.warning("Compiled module %s is not available (%s); using the numpy fallback.", name, error)
        return None


def compiled_module(name: str) -> ModuleType | None:
    """The compiled module ``name``, or None when it is not installed or the fallback is forced."""
    if pure_python_forced():
        return None
    return _import_compiled(name)


def compiled_kernels_in_use() -> dict[str, bool]:
    """For diagnostics and tests: which compiled modules the next call would use."""
    return {name: compiled_module(name) is not None for name in (RICE_MODULE, NETWORK_MODULE, RESAMPLE_MODULE)}
