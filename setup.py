"""The optional C extensions; everything else about the project is in pyproject.toml.

All are fast paths with a numpy fallback (data_operations/native.py), so an install on a machine
without a C compiler, or whose compiler rejects them, must still succeed: each is ``optional`` and
the build step below reports a failure and goes on without that module.

Products and sums must round exactly as numpy's, hence no floating-point contraction into FMAs;
the sources must build free of warnings, hence -Wall -Wextra -Werror (compilers that do not take
these GCC-style flags fall into the same fallback).
"""
from __future__ import annotations

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

STRICT = ["-O3", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"]
# Set to 1 to make a failed kernel build fail the install (the CI image has a compiler).
REQUIRE_VARIABLE = "DATALAB_REQUIRE_COMPILED_KERNELS"


class OptionalBuildExt(build_ext):
    """build_ext that leaves out an extension it cannot build, unless told to require them."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # no compiler at all fails before any one extension is tried
            self._give_up(f"C extensions not built ({error}); the numpy fallback will be used.")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:
            self._give_up(f"{ext.name} not built ({error}); the numpy fallback will be used.")

    @staticmethod
    def _give_up(message: str) -> None:
        if os.environ.get(REQUIRE_VARIABLE, "").strip() in ("1", "true", "yes"):
            raise SystemExit(message)
        print(f"WARNING: {message}")


setup(
    ext_modules=[
        Extension("data_operations.frames._rice", ["data_operations/frames/_rice.c"], extra_compile_args=STRICT,
                  optional=True),
        # No FP traps are ever enabled, so the compare-selects may become packed min/max instructions.
        Extension("data_operations.kernels._network", ["data_operations/kernels/_network.c"], optional=True,
                  extra_compile_args=[*STRICT, "-fno-trapping-math", "-fno-tree-loop-distribute-patterns"]),
        Extension("data_operations.frames._resample", ["data_operations/frames/_resample.c"],
                  extra_compile_args=STRICT, optional=True),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
