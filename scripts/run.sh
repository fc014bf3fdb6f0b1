#!/usr/bin/env bash
# Bring the whole service up on this machine: virtualenv, install, migrate, demo user and
# frames, worker and web server. With DATABASE_URL / REDIS_URL set it uses them; without, it
# runs on embedded defaults (SQLite, an in-process queue worker, local files, local archive).
# Usage: scripts/run.sh            (PORT=8000 by default; Ctrl-C stops everything)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    echo "==> Creating a virtualenv in .venv"
    "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
# Reinstall (and recompile the C kernels) when the project file or a C source changes.
stamp=.venv/.installed-$(cat pyproject.toml setup.py data_operations/*/*.c | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
    echo "==> Installing dependencies"
    pip install --quiet --upgrade pip
    pip install --quiet -e '.[test]'
    touch "$stamp"
fi

export PORT="${PORT:-8000}"
export ARCHIVE_API="${ARCHIVE_API:-http://127.0.0.1:${PORT}/archive/}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:${PORT}}"
# DEBUG stays off: its error pages show settings and the environment to any API client.
export DEBUG="${DEBUG:-false}"
# The HR Diagram's Gaia DR3 stars: the synthetic Gaia catalogue of the demo sky, which
# generate_demo_frames writes beside the demo frames (works offline; it is not real Gaia data).
# DATALAB_GAIA_PROVIDER=tap asks the real Gaia archive instead (the settings' default).
demo_archive="${LOCAL_ARCHIVE_DIR:-${DATALAB_VAR_DIR:-$PWD/var}/archive}"
export DATALAB_GAIA_PROVIDER="${DATALAB_GAIA_PROVIDER:-fixture:${demo_archive}/synthetic-gaia-demo-sky.ecsv}"
# Moving Target by designation: the demo asteroid "2026 DL1" is answered from its synthetic track, any
# other designation by the real JPL Horizons.
export HORIZONS_PROVIDER="${HORIZONS_PROVIDER:-synthetic-demo}"
# The front end's development server (npm run serve) listens on 8080 (8081 when 8080 is taken).
export CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://localhost:8080,http://127.0.0.1:8080,http://localhost:8081,http://127.0.0.1:8081}"

if [ -n "${DATABASE_URL:-}" ]; then
    echo "==> Database: ${DATABASE_URL%%@*}@... (DATABASE_URL)"
else
    echo "==> Database: embedded SQLite in var/db.sqlite3 (set DATABASE_URL to use PostgreSQL)"
fi

python manage.py migrate --verbosity 0
python manage.py create_demo_user --username demo
echo "==> Generating demo frames into the local archive (first run only takes a moment)"
python manage.py generate_demo_frames

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

echo "==> HR Diagram's Gaia: ${DATALAB_GAIA_PROVIDER} (DATALAB_GAIA_PROVIDER)"

if [ -n "${REDIS_URL:-}" ]; then
    echo "==> Queue: Redis at ${REDIS_URL} (REDIS_URL); starting a Dramatiq worker"
    python manage.py rundramatiq --processes 1 --threads 2 &
    pids+=($!)
else
    echo "==> Queue: embedded in-process worker (set REDIS_URL to use Redis and separate workers)"
fi

echo "==> Datalab API at http://127.0.0.1:${PORT}/api/  (admin: /admin/, archive: /archive/frames/)"
# --insecure: serve the admin's static files without DEBUG (local quick start only).
python manage.py runserver "127.0.0.1:${PORT}" --noreload --insecure &
pids+=($!)
wait "${pids[@]}"
