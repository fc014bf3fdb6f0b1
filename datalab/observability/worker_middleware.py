"""Dramatiq middleware for operators: request ids across the queue, a liveness heartbeat file."""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from dramatiq.middleware import Middleware

from datalab.observability.request_id import bind_request_id, current_request_id, reset_request_id

logger = logging.getLogger(__name__)

MESSAGE_OPTION = "request_id"


class RequestIdPropagation(Middleware):
    """Copies the current request id into each message sent and binds it while a worker runs it.

    A message sent from an API request carries that request's id; a retry sent by the worker
    carries it on. The worker's log lines for the message then name the request that caused it.
    """

    def __init__(self) -> None:
        self._tokens = threading.local()

    def before_enqueue(self, broker, message, delay) -> None:
        request_id = current_request_id()
        if request_id and MESSAGE_OPTION not in message.options:
            message.options[MESSAGE_OPTION] = request_id

    def before_process_message(self, broker, message) -> None:
        self._tokens.token = bind_request_id(message.options.get(MESSAGE_OPTION))

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        token = getattr(self._tokens, "token", None)
        if token is not None:
            reset_request_id(token)
            self._tokens.token = None

    after_skip_message = after_process_message


class WorkerHeartbeat(Middleware):
    """Touches ``<directory>/<pid>`` while this worker process can consume; the liveness probe reads it.

    The file is touched only while the worker's consumer and worker threads are alive and the
    broker answers, so a wedged or disconnected process stops beating and gets restarted.

    Parameters:
      directory (str): where heartbeat files go; defaults to the WORKER_HEARTBEAT_DIR setting.
      interval (float): seconds between beats; defaults to the WORKER_HEARTBEAT_SECONDS setting.
    """

    def __init__(self, *, directory: str | None = None, interval: float | None = None):
        self.directory = directory
        self.interval = interval
        self._stopped = threading.Event()
        self._path: Path | None = None

    def after_worker_boot(self, broker, worker) -> None:
        from django.conf import settings

        directory = Path(self.directory or settings.WORKER_HEARTBEAT_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / str(os.getpid())
        interval = self.interval or settings.WORKER_HEARTBEAT_SECONDS
        threading.Thread(
            target=self._beat, args=(broker, worker, interval), daemon=True, name="datalab-worker-heartbeat"
        ).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stopped.set()
        if self._path is not None:
            self._path.unlink(missing_ok=True)

    def _beat(self, broker, worker, interval: float) -> None:
        while not self._stopped.is_set():
            if self._healthy(broker, worker):
                self._path.touch()
            self._stopped.wait(interval)

    @staticmethod
    def _healthy(broker, worker) -> bool:
        threads = [*getattr(worker, "consumers", {}).values(), *getattr(worker, "workers", [])]
        if not threads or not all(thread.is_alive() for thread in threads):
            logger.warning("worker threads stopped; withholding the heartbeat")
            return False
        client = getattr(broker, "client", None)
        if client is None:  # brokers without a network connection (the in-process stub)
            return True
        try:
            started = time.monotonic()
            client.ping()
        except Exception as error:  # noqa: BLE001 - any broker failure means "not consuming"
            logger.warning("broker unreachable (%s); withholding the heartbeat", error)
            return False
        return time.monotonic() - started < 5.0
