"""Dramatiq actors. Messages carry only an operation id; the database holds everything else."""
from __future__ import annotations

import time

import dramatiq
from django.conf import settings

from datalab.datalab_session import runner, sweeper
from datalab.observability.metrics import operation_finished

# Operations stop themselves at OPERATION_TIME_LIMIT_SECONDS (checked at each progress report);
# Dramatiq's limit, an asynchronous exception that may land anywhere, is only the backstop.
TIME_LIMIT_BACKSTOP_SECONDS = 60


@dramatiq.actor(
    queue_name="datalab",
    max_retries=3,
    min_backoff=5_000,
    time_limit=(settings.OPERATION_TIME_LIMIT_SECONDS + TIME_LIMIT_BACKSTOP_SECONDS) * 1000,
)
def run_operation(operation_id: int) -> None:
    started = time.monotonic()
    outcome = "error"  # an exception escaping the runner (e.g. the database went away mid-claim)
    try:
        outcome = runner.execute(int(operation_id))
    finally:
        operation_finished(operation_id=int(operation_id), outcome=outcome,
                           duration_seconds=time.monotonic() - started)


@dramatiq.actor(queue_name="datalab", max_retries=0)
def sweep_operations() -> None:
    sweeper.sweep()
