"""Embedded mode: with no Redis available, a Dramatiq worker runs inside the web process.

Used by the README's run command on a machine without Redis, so a new user gets a working
service from one command. Production always runs separate ``rundramatiq`` workers.
"""
from __future__ import annotations

import logging
import os
import sys

from django.conf import settings

logger = logging.getLogger(__name__)
_worker = None


def start_if_enabled() -> None:
    global _worker
    if _worker is not None or not settings.DATALAB_EMBEDDED_WORKER or "runserver" not in sys.argv:
        return
    if "--noreload" not in sys.argv and os.environ.get("RUN_MAIN") != "true":
        return  # the autoreloader's parent process serves nothing
    import dramatiq

    from datalab.datalab_session import tasks  # noqa: F401 - registers the actors
    from datalab.datalab_session.sweeper import SweeperThread

    _worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=2)
    _worker.start()
    SweeperThread(settings.OPERATION_SWEEP_SECONDS).start()
    logger.warning("No REDIS_URL set: running an embedded in-process worker (development mode).")
