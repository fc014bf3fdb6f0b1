"""Embedded mode: with no Redis available, a Dramatiq worker runs inside the web process.

Used by the README's run command on a machine without Redis, so a new user gets a working
service from one command. Production always runs separate ``rundramatiq`` workers.
"""
from __future__ import annotations

import logging
import os
import sys

import dramatiq
from django.conf import settings

from datalab.datalab_session import tasks  # noqa: F401 - registers the actor

logger = logging.getLogger(__name__)
_worker = None


def start_if_enabled() -> None:
    global _worker
    if _worker is not None or not settings.DATALAB_EMBEDDED_WORKER or "runserver" not in sys.argv:
        return
    if "--noreload" not in sys.argv and os.environ.get("RUN_MAIN") != "true":
        return  # the autoreloader's parent process serves nothing
    # The broker's middleware (settings.DRAMATIQ_MIDDLEWARE) tunes the process and starts the sweeper.
    _worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=2)
    _worker.start()
    logger.warning("No REDIS_URL set: running an embedded in-process worker (development mode).")
