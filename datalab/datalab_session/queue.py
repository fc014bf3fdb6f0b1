"""Putting wake-up messages on the queue, always after the surrounding transaction commits.

A message names no operation a worker must run: it says "an operation is waiting". The worker
that takes it claims the next operation in the fair order of ``claims.claim_next``. So any
message can serve any operation, a lost message is replaced by counting (``sweeper``), and a
prefetched message never waits behind one particular long operation.

This module only sends: it builds messages by actor name and never imports the actors, so the
modules that send (services, sweeper, runner) do not depend on the module that receives (tasks).
"""
from __future__ import annotations

import logging

import dramatiq
from django.db import transaction
from django.utils import timezone
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from datalab.datalab_session.models import DataOperation

logger = logging.getLogger(__name__)

QUEUE_NAME = "datalab"
RUN_ACTOR_NAME = "run_next_operation"


def _wake_up_message() -> dramatiq.Message:
    return dramatiq.Message(queue_name=QUEUE_NAME, actor_name=RUN_ACTOR_NAME, args=(), kwargs={}, options={})


def send_wake_ups(count: int = 1, *, delay_ms: int | None = None) -> int:
    """Send ``count`` messages now; returns how many the broker took (a broker outage is logged, not raised)."""
    broker = dramatiq.get_broker()
    broker.declare_queue(QUEUE_NAME)
    sent = 0
    for _ in range(count):
        try:
            broker.enqueue(_wake_up_message(), delay=delay_ms)
        except Exception:  # noqa: BLE001 - the sweeper sends again when the broker is back
            logger.warning("Could not send a wake-up message; the sweeper will send it again.", exc_info=True)
            break
        sent += 1
    return sent


def wake_worker_on_commit(*, delay_ms: int | None = None) -> None:
    """Send one wake-up once the surrounding transaction commits, so the worker finds the row."""
    transaction.on_commit(lambda: send_wake_ups(1, delay_ms=delay_ms))


def enqueue_operation(operation_id: int, *, delay_ms: int | None = None) -> None:
    """Mark the operation as announced and wake a worker once the surrounding transaction commits."""
    DataOperation.objects.filter(pk=operation_id).update(enqueued_at=timezone.now())
    wake_worker_on_commit(delay_ms=delay_ms)


def waiting_messages() -> int | None:
    """Messages in the queue that no worker has fetched yet; None when the broker cannot tell."""
    broker = dramatiq.get_broker()
    if isinstance(broker, RedisBroker):
        return int(broker.client.llen(f"{broker.namespace}:{QUEUE_NAME}"))
    if isinstance(broker, StubBroker):
        queue = broker.queues.get(QUEUE_NAME)
        return queue.qsize() if queue is not None else 0
    return None
