"""The worker's one actor: a wake-up message makes it run the next operation in the fair order.

Retries and the time limit belong to the database (see ``runner``): Dramatiq's own retries and
time limit are not installed (settings.DRAMATIQ_MIDDLEWARE), so two policies cannot fight over one operation.
"""
from __future__ import annotations

import time

import dramatiq

from datalab.datalab_session import runner
from datalab.datalab_session.queue import QUEUE_NAME, RUN_ACTOR_NAME
from datalab.datalab_session.worker_middleware import worker_stopping
from datalab.observability.metrics import operation_finished


@dramatiq.actor(actor_name=RUN_ACTOR_NAME, queue_name=QUEUE_NAME)
def run_next_operation() -> None:
    """Run the next operation in the fair order, then the next, while one is ready.

    A thread that has just finished takes a waiting operation at once, instead of going idle until
    the consumer fetches that operation's own message (up to WORKER_POLL_MILLISECONDS later, since
    a consumer whose threads are all busy fetches nothing). Messages are interchangeable wake-ups,
    so the message of an operation taken this way later claims nothing and ends at once. A worker
    that is shutting down finishes its current operation and takes no other.
    """
    while True:
        started = time.monotonic()
        operation_id, outcome = runner.run_next()
        if operation_id is None:
            return
        operation_finished(operation_id=operation_id, outcome=outcome, duration_seconds=time.monotonic() - started)
        if worker_stopping():
            return
