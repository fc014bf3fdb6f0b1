"""Recovering operations that lost their message or their worker.

Redis may be flushed and workers may be killed; PostgreSQL still knows every operation. Wake-up
messages are interchangeable (see ``queue``), so the sweeper counts: every operation a worker
could take now needs one message waiting in the queue. When fewer wait than that, the difference
was lost and is sent again. Operations merely waiting in a long queue already have theirs, so a
busy queue is never duplicated. A running operation whose heartbeat went stale counts as
needing one, so a killed worker's operation is taken over once OPERATION_STALE_SECONDS pass.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from datalab.datalab_session.claims import claimable
from datalab.datalab_session.models import DataOperation, OperationStatus
from datalab.datalab_session.queue import send_wake_ups, waiting_messages

logger = logging.getLogger(__name__)

# A message fetched a moment ago may not have claimed its operation yet: newer ones are not counted.
GRACE_SECONDS = 5


def operations_needing_a_message() -> int:
    """Operations a worker could take now, announced long enough ago that their message should show."""
    now = timezone.now()
    settled = now - timedelta(seconds=GRACE_SECONDS)
    announced_long_ago = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=settled)
    past_backoff = Q(not_before__isnull=True) | Q(not_before__lt=settled)
    return DataOperation.objects.filter(
        claimable(now) & ((Q(status=OperationStatus.PENDING) & announced_long_ago & past_backoff)
                          | Q(status=OperationStatus.IN_PROGRESS))
    ).count()


def sweep() -> int:
    """Send a message for every operation whose message was lost; returns how many were sent."""
    needed = operations_needing_a_message()
    if not needed:
        return 0
    waiting = waiting_messages()
    missing = needed - (waiting or 0)
    if missing <= 0:
        return 0
    sent = send_wake_ups(missing)
    logger.info("sweeper sent %d wake-up message(s): %d operation(s) ready, %s message(s) waiting",
                sent, needed, waiting)
    return sent
