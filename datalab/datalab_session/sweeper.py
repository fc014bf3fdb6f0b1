"""Recovering operations that lost their message or their worker.

Redis may be flushed and workers may be killed; PostgreSQL still knows every operation. The
sweeper re-enqueues PENDING operations whose message is old enough to have been lost and
IN_PROGRESS operations whose heartbeat went stale. Claims are atomic, so a duplicate message
is harmless.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from datalab.datalab_session.models import DataOperation, OperationStatus

logger = logging.getLogger(__name__)


def sweep() -> int:
    """Re-enqueue every operation that should be running but is not; returns how many."""
    from datalab.datalab_session.queue import enqueue_operation

    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.OPERATION_STALE_SECONDS)
    lost = DataOperation.objects.filter(
        Q(status=OperationStatus.PENDING, enqueued_at__lt=stale_before)
        | Q(status=OperationStatus.PENDING, enqueued_at__isnull=True)
        | Q(status=OperationStatus.IN_PROGRESS, heartbeat__lt=stale_before)
    )
    count = 0
    for operation in lost.only("pk"):
        enqueue_operation(operation)
        count += 1
    if count:
        logger.info("sweeper re-enqueued %d operation(s)", count)
    return count


class SweeperThread(threading.Thread):
    """Runs :func:`sweep` every ``interval`` seconds inside a worker process."""

    def __init__(self, interval: float):
        super().__init__(daemon=True, name="datalab-sweeper")
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                sweep()
            except Exception:  # noqa: BLE001 - the database may be restarting; try next round
                logger.warning("sweep failed", exc_info=True)
            finally:
                close_old_connections()
