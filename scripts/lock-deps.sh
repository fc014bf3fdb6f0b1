#!/usr/bin/env bash
# Re-lock the container image's runtime dependencies (requirements.lock) from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"${PYTHON:-python3}" -m venv "$tools" && "$tools/bin/pip" install --quiet uv 2>/dev/null
cp requirements.lock "$tools/lock.txt"  # uv keeps the pins already in the output file where they still fit
"$tools/bin/uv" pip compile pyproject.toml --extra s3 --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header --quiet -o "$tools/lock.txt"
{
    echo "# Exact runtime dependencies of the container image (with the s3 extra), with hashes."
    echo "# Regenerate after changing dependencies in pyproject.toml: scripts/lock-deps.sh"
    cat "$tools/lock.txt"
} > requirements.lock.new
mv requirements.lock.new requirements.lock
echo "requirements.lock: $(grep -c '^[a-z0-9]' requirements.lock) packages"
