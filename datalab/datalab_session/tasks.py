"""Dramatiq actors. Messages carry only an operation id; the database holds everything else."""
from __future__ import annotations

import dramatiq
from django.conf import settings

from datalab.datalab_session import runner, sweeper


@dramatiq.actor(
    queue_name="datalab",
    max_retries=3,
    min_backoff=5_000,
    time_limit=settings.OPERATION_TIME_LIMIT_SECONDS * 1000,
)
def run_operation(operation_id: int) -> None:
    runner.execute(int(operation_id))


@dramatiq.actor(queue_name="datalab", max_retries=0)
def sweep_operations() -> None:
    sweeper.sweep()
