#!/bin/sh
# One image, several roles: web (gunicorn), worker (Dramatiq), migrate (schema, then exit).
# Per-pod scratch (multiprocess metrics, worker heartbeats) starts empty on every container start,
# so a restarted container never reports a dead process's gauges or heartbeat.
set -eu

: "${PROMETHEUS_MULTIPROC_DIR:=/tmp/datalab/prometheus}"
: "${WORKER_HEARTBEAT_DIR:=/tmp/datalab/heartbeat}"
# Dramatiq's metrics server reads the same directory the worker processes write to.
dramatiq_prom_db="$PROMETHEUS_MULTIPROC_DIR"
export PROMETHEUS_MULTIPROC_DIR WORKER_HEARTBEAT_DIR dramatiq_prom_db

reset_dir() { rm -rf "$1" && mkdir -p "$1"; }

role="${1:-web}"
[ $# -gt 0 ] && shift
case "$role" in
    web)
        reset_dir "$PROMETHEUS_MULTIPROC_DIR"
        exec gunicorn -c python:datalab.gunicorn_conf datalab.wsgi "$@"
        ;;
    worker)
        reset_dir "$PROMETHEUS_MULTIPROC_DIR"
        reset_dir "$WORKER_HEARTBEAT_DIR"
        exec python manage.py rundramatiq --skip-logging \
            --processes "${WORKER_PROCESSES:-1}" --threads "${WORKER_THREADS:-2}" "$@"
        ;;
    migrate)
        exec python manage.py migrate --no-input "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
