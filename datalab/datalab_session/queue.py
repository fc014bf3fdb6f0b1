"""Putting operations on the queue, always after the surrounding transaction commits."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from datalab.datalab_session.models import DataOperation


def enqueue_operation(operation: DataOperation, *, delay_ms: int | None = None) -> None:
    """Send the worker message once the row is committed, so a worker always finds it."""
    operation_id = operation.pk
    DataOperation.objects.filter(pk=operation_id).update(enqueued_at=timezone.now())

    def send() -> None:
        from datalab.datalab_session.tasks import run_operation

        try:
            run_operation.send_with_options(args=(operation_id,), delay=delay_ms)
        except Exception:  # noqa: BLE001 - the sweeper re-enqueues when the broker is down
            import logging

            logging.getLogger(__name__).warning(
                "Could not enqueue operation %s; the sweeper will retry.", operation_id, exc_info=True
            )

    transaction.on_commit(send)
