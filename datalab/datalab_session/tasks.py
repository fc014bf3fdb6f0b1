"""The worker's one actor: a wake-up message makes it run the next operation in the fair order.

Retries and the time limit belong to the database (see ``runner``): Dramatiq's own retries and
time limit are not installed (settings.DRAMATIQ_MIDDLEWARE), so two policies cannot fight over one operation.
"""
from __future__ import annotations

import time

import dramatiq

from datalab.datalab_session import runner
from datalab.datalab_session.queue import QUEUE_NAME, RUN_ACTOR_NAME
from datalab.observability.metrics import operation_finished


@dramatiq.actor(actor_name=RUN_ACTOR_NAME, queue_name=QUEUE_NAME)
def run_next_operation() -> None:
    started = time.monotonic()
    operation_id, outcome = runner.run_next()
    if operation_id is not None:
        operation_finished(operation_id=operation_id, outcome=outcome, duration_seconds=time.monotonic() - started)
