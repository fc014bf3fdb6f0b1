"""Dramatiq middleware: behaviour every worker process has, hung on the broker's lifecycle hooks."""
from __future__ import annotations

from dramatiq.middleware import Middleware


class SweeperMiddleware(Middleware):
    """Starts the sweeper thread in each worker process once the worker has booted.

    Parameters:
      interval (float): seconds between sweeps; defaults to the OPERATION_SWEEP_SECONDS setting.
    """

    def __init__(self, *, interval: float | None = None):
        self.interval = interval
        self.thread = None

    def after_worker_boot(self, broker, worker) -> None:
        from django.conf import settings

        from datalab.datalab_session.sweeper import SweeperThread

        self.thread = SweeperThread(self.interval or settings.OPERATION_SWEEP_SECONDS)
        self.thread.start()

    def before_worker_shutdown(self, broker, worker) -> None:
        if self.thread is not None:
            self.thread.stopped.set()
