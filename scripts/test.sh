#!/usr/bin/env bash
# Run the test suite against PostgreSQL and Redis (defaults: the local servers on loopback).
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
# Reinstall (and recompile the C kernels) when the project files or a C source change. The kernels
# are optional for an install (a numpy fallback gives the same results), but CI has a compiler, so
# there a failed kernel build fails the run instead of silently testing the fallback twice.
stamp=.venv/.installed-$(cat pyproject.toml setup.py data_operations/*/*.c | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
    pip install --quiet --upgrade pip
    DATALAB_REQUIRE_COMPILED_KERNELS="${DATALAB_REQUIRE_COMPILED_KERNELS:-${CI:-}}" pip install --quiet -e '.[test]'
    touch "$stamp"
fi

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DRAMATIQ_NAMESPACE="${DRAMATIQ_NAMESPACE:-datalab-test-$$}"

ruff check .
python -m pytest "$@"
