"""Which operation a worker takes next, and taking it: one conditional UPDATE in PostgreSQL.

The order is fair between users: the next operation is the oldest one of the user with the
fewest operations running now. A user who queued many operations gets one worker thread after
another only while nobody else waits, so another user's short job never waits behind that whole
queue. Claims are atomic, so duplicate or stray wake-up messages are harmless.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from datalab.datalab_session.models import DataOperation, OperationStatus

# Candidates tried when the first ones cannot be claimed (locked by another worker, or exhausted).
CLAIM_CANDIDATES = 5
# PostgreSQL advisory lock taken while choosing: claims are chosen one at a time, each seeing the last.
CLAIM_ORDER_LOCK = 0x6461746C  # "datl"


def stale_before(now: datetime) -> datetime:
    """An IN_PROGRESS operation whose heartbeat is older than this has lost its worker."""
    return now - timedelta(seconds=settings.OPERATION_STALE_SECONDS)


def claimable(now: datetime) -> Q:
    """Operations a worker may take: PENDING (past any retry back-off), or running with a stale heartbeat."""
    return Q(status=OperationStatus.PENDING) | Q(status=OperationStatus.IN_PROGRESS, heartbeat__lt=stale_before(now))


def _ready(now: datetime) -> Q:
    return claimable(now) & (Q(not_before__isnull=True) | Q(not_before__lte=now))


def claim(operation_id: int) -> tuple[DataOperation, str] | None:
    """Move this operation to IN_PROGRESS atomically; None when it is not claimable (or gave up)."""
    now = timezone.now()
    exhausted = DataOperation.objects.filter(
        claimable(now), pk=operation_id, attempts__gte=settings.OPERATION_MAX_ATTEMPTS
    ).update(
        status=OperationStatus.FAILED,
        claim_token="",
        finished_at=now,
        message=f"Gave up after {settings.OPERATION_MAX_ATTEMPTS} attempts: the worker stopped "
        "(crashed, killed or timed out) every time. Try fewer or smaller input files.",
    )
    if exhausted:
        return None
    token = str(uuid.uuid4())
    claimed = DataOperation.objects.filter(claimable(now), pk=operation_id).update(
        status=OperationStatus.IN_PROGRESS,
        claim_token=token,
        attempts=F("attempts") + 1,
        heartbeat=now,
        started_at=now,
        modified=now,
        not_before=None,
        operation_progress=0.0,
        message="Starting.",
    )
    if not claimed:
        return None
    return DataOperation.objects.select_related("user__profile").get(pk=operation_id), token


def fair_order(now: datetime):
    """Ready operations, the next to run first: fewest running operations of their user, then oldest."""
    running = (
        DataOperation.objects.filter(
            user=OuterRef("user"), status=OperationStatus.IN_PROGRESS, heartbeat__gte=stale_before(now)
        )
        .order_by()
        .values("user")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        DataOperation.objects.filter(_ready(now))
        .annotate(user_running=Coalesce(Subquery(running, output_field=IntegerField()), Value(0)))
        .order_by("user_running", "created", "id")
    )


def _choose_one_at_a_time() -> None:
    """Hold the claim-order lock until the transaction ends.

    Two threads freed at the same moment would otherwise both count the running operations before
    either claim commits, and both pick the same user's next operation. Choosing takes a few
    milliseconds, so taking turns costs nothing. (SQLite serialises writers by itself.)
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_ORDER_LOCK])


def claim_next() -> tuple[DataOperation, str] | None:
    """Claim the next operation in the fair order; None when nothing is ready."""
    for _ in range(CLAIM_CANDIDATES):
        with transaction.atomic():
            _choose_one_at_a_time()
            # SKIP LOCKED: an operation being cancelled or resubmitted right now is passed over.
            candidate = (
                fair_order(timezone.now())
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)
                .first()
            )
            if candidate is None:
                return None
            claimed = claim(candidate)
        if claimed is not None:
            return claimed
    return None
