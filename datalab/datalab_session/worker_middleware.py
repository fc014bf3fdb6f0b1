"""Dramatiq middleware: what every worker process does at its start, hung on the worker's boot hooks.

Nothing here acts on import: the web process loads this module with the broker configuration and
stays untouched; only a booting worker tunes itself and starts its periodic sweeps.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string
from dramatiq.middleware import Middleware

from data_operations.allocator import keep_freed_memory
from data_operations.kernels.threads import shorten_gil_switch_interval

logger = logging.getLogger(__name__)

# Set while this process's worker shuts down: its threads then take no further operation.
_stopping = threading.Event()


def worker_stopping() -> bool:
    """True once this process's worker has begun to shut down."""
    return _stopping.is_set()


def tune_worker_process() -> None:
    """Process-wide settings for band-by-band work on threads: freed memory kept, the GIL handed over sooner."""
    keep_freed_memory()
    shorten_gil_switch_interval()


class WorkerSetup(Middleware):
    """Tunes the worker process, lets it hold one message per thread, sets how often it polls, and
    tells its threads when it is shutting down (see ``tasks.run_next_operation``).

    Messages only wake a worker (the operation is chosen at claim time), so a process fetches as
    many as it has threads: ``--threads 2`` runs two operations at once, and none waits prefetched.
    An idle consumer asks the broker again after at most WORKER_POLL_MILLISECONDS (the worker's
    timeout, which its consumers take when they start, just after this hook).
    """

    def before_worker_boot(self, broker, worker) -> None:
        _stopping.clear()
        tune_worker_process()
        worker.queue_prefetch = worker.worker_threads
        worker.worker_timeout = settings.WORKER_POLL_MILLISECONDS

    def before_worker_shutdown(self, broker, worker) -> None:
        _stopping.set()


class PeriodicThread(threading.Thread):
    """Runs ``task`` every ``interval`` seconds in the background of a worker process."""

    def __init__(self, task: Callable[[], object], interval: float, *, name: str):
        super().__init__(daemon=True, name=name)
        self.task = task
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.task()
            except Exception:  # noqa: BLE001 - the database may be restarting; try next round
                logger.warning("%s failed", self.name, exc_info=True)
            finally:
                close_old_connections()


class PeriodicTasks(Middleware):
    """Runs the jobs of settings.WORKER_PERIODIC_TASKS in every worker process, from boot to shutdown.

    Each entry is ``(dotted path of a function, name of the setting holding its interval in seconds)``.
    The functions are looked up at boot, once Django's apps are loaded (the broker, and this
    middleware with it, is built before the models exist).
    """

    def __init__(self) -> None:
        self.threads: list[PeriodicThread] = []

    def after_worker_boot(self, broker, worker) -> None:
        for path, interval_setting in settings.WORKER_PERIODIC_TASKS:
            thread = PeriodicThread(import_string(path), float(getattr(settings, interval_setting)),
                                    name=f"periodic {path}")
            thread.start()
            self.threads.append(thread)

    def before_worker_shutdown(self, broker, worker) -> None:
        for thread in self.threads:
            thread.stopped.set()
