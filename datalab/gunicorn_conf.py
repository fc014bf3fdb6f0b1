"""gunicorn settings of the web role (``gunicorn -c python:datalab.gunicorn_conf datalab.wsgi``).

Every value can be overridden from the environment with gunicorn's own ``GUNICORN_CMD_ARGS``.
"""
from __future__ import annotations

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
# The API answers quickly; output files stream from storage. Long requests mean trouble.
timeout = int(os.environ.get("WEB_TIMEOUT_SECONDS", "60"))
graceful_timeout = 25
keepalive = 5
# No runtime control socket: the container's home is read-only and nothing manages gunicorn through it.
control_socket_disable = True
# A worker is replaced after this many requests, so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# Requests are logged by Django (one JSON line with the request id), not by gunicorn.
accesslog = None
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def child_exit(server, worker) -> None:
    """A dead worker's live gauges must leave the multiprocess metrics with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
