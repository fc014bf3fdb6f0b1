"""Wake-up messages, the fair claim order, retries in the database and the sweeper's count of lost messages."""
from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import dramatiq
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from datalab import settings as defaults
from datalab.datalab_session import claims, queue, runner, sweeper
from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus

pytestmark = pytest.mark.django_db

SESSION_PACKAGE = Path(__file__).resolve().parents[2] / "datalab" / "datalab_session"
WORKER_MODULES = ["queue", "claims", "runner", "sweeper", "services", "tasks"]


@pytest.fixture
def empty_queue():
    broker = dramatiq.get_broker()
    broker.declare_queue(queue.QUEUE_NAME)
    broker.flush(queue.QUEUE_NAME)
    yield broker
    broker.flush(queue.QUEUE_NAME)


def operation_of(user, *, age_seconds: float = 0, **fields) -> DataOperation:
    session = DataSession.objects.create(user=user, name="s")
    operation = DataOperation.objects.create(
        session=session, user=user, name="Median", input_data={"input_files": []},
        cache_key=f"k{DataOperation.objects.count()}-{user.pk}", **fields,
    )
    if age_seconds:
        DataOperation.objects.filter(pk=operation.pk).update(created=timezone.now() - timedelta(seconds=age_seconds))
    return operation


def _session_imports(module: str) -> tuple[set[str], list[str]]:
    """Sibling modules ``module`` imports at top level, and any import statement found inside a function."""
    tree = ast.parse((SESSION_PACKAGE / f"{module}.py").read_text())
    top, nested = set(), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested += [f"{module}.{node.name}" for inner in ast.walk(node) if isinstance(inner, (ast.Import,
                                                                                               ast.ImportFrom))]
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("datalab.datalab_session"):
            name = node.module.rsplit(".", 1)[-1]
            top |= {alias.name for alias in node.names} if name == "datalab_session" else {name}
    return top & set(WORKER_MODULES), nested


def test_worker_modules_form_layers_without_function_level_imports():
    graph = {}
    for module in WORKER_MODULES:
        graph[module], nested = _session_imports(module)
        assert nested == [], f"imports inside functions: {nested}"
    assert graph["queue"] == set()
    assert graph["claims"] == set()
    assert graph["runner"] == {"claims", "queue"}
    assert graph["sweeper"] == {"claims", "queue"}
    assert graph["services"] == {"queue"}
    assert graph["tasks"] == {"queue", "runner"}


def test_analysis_does_not_import_the_worker():
    source = (SESSION_PACKAGE.parent / "analysis" / "frames.py").read_text()
    assert "runner" not in source and "tasks" not in source


def test_one_retry_policy_and_one_time_limit(settings):
    broker = dramatiq.get_broker()
    names = {type(middleware).__name__ for middleware in broker.middleware}
    assert "Retries" not in names and "TimeLimit" not in names
    assert {"WorkerSetup", "PeriodicTasks"} <= names
    assert sorted(broker.get_declared_actors()) == [queue.RUN_ACTOR_NAME]
    # The sweep is no actor: every worker runs it periodically.
    assert ("datalab.datalab_session.sweeper.sweep", "OPERATION_SWEEP_SECONDS") in django_settings.WORKER_PERIODIC_TASKS


def test_retry_waits_out_its_backoff_in_the_database(owner, empty_queue, settings):
    operation = operation_of(owner)
    claimed, token = claims.claim(operation.pk)
    assert runner._retry_later(claimed, token, "The archive is unavailable.") == "retry"
    operation.refresh_from_db()
    assert operation.status == OperationStatus.PENDING and operation.claim_token == ""
    assert operation.message == "The archive is unavailable. Retrying shortly (attempt 1 of 3)."
    assert 1.5 < (operation.not_before - timezone.now()).total_seconds() <= 2.0
    assert claims.claim_next() is None  # still backing off
    DataOperation.objects.filter(pk=operation.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    again, _ = claims.claim_next()
    assert (again.pk, again.attempts, again.not_before) == (operation.pk, 2, None)


def test_next_claim_is_the_oldest_of_the_user_with_fewest_running(owner, stranger):
    busy_running = operation_of(owner, age_seconds=100, status=OperationStatus.IN_PROGRESS, heartbeat=timezone.now())
    busy_queue = [operation_of(owner, age_seconds=90 - i) for i in range(5)]
    short = operation_of(stranger, age_seconds=1)
    claimed, _ = claims.claim_next()
    assert claimed.pk == short.pk  # the stranger has nothing running: their job goes first
    # Now both users run one: the owner's oldest waiting operation is next, then the next oldest.
    assert claims.claim_next()[0].pk == busy_queue[0].pk
    DataOperation.objects.filter(pk=short.pk).update(status=OperationStatus.COMPLETED)
    assert claims.claim_next()[0].pk == busy_queue[1].pk
    assert busy_running.pk not in [op.pk for op in DataOperation.objects.filter(status=OperationStatus.PENDING)]


def test_a_stale_operation_counts_as_not_running_and_is_taken_over(owner, stranger, settings):
    stale = timezone.now() - timedelta(seconds=settings.OPERATION_STALE_SECONDS + 1)
    dead = operation_of(owner, age_seconds=50, status=OperationStatus.IN_PROGRESS, heartbeat=stale, attempts=1)
    operation_of(stranger, age_seconds=10, status=OperationStatus.IN_PROGRESS, heartbeat=timezone.now())
    operation_of(stranger, age_seconds=5)
    taken, _ = claims.claim_next()
    assert (taken.pk, taken.attempts) == (dead.pk, 2)


def test_sweeper_sends_messages_only_for_lost_ones(owner, empty_queue, settings):
    old = timezone.now() - timedelta(seconds=60)
    waiting = [operation_of(owner, enqueued_at=old) for _ in range(6)]
    operation_of(owner, enqueued_at=timezone.now())  # just sent: its message may be on its way
    operation_of(owner, enqueued_at=old, not_before=timezone.now() + timedelta(seconds=30))  # backing off
    operation_of(owner, status=OperationStatus.COMPLETED, enqueued_at=old)
    queue.send_wake_ups(len(waiting))
    # A long queue: every ready operation has its message waiting, none is sent again.
    assert queue.waiting_messages() == 6
    assert sweeper.sweep() == 0
    # The broker lost them (flushed): each ready operation gets one, once.
    empty_queue.flush(queue.QUEUE_NAME)
    assert sweeper.sweep() == 6
    assert queue.waiting_messages() == 6
    assert sweeper.sweep() == 0


def test_sweeper_replaces_the_message_of_a_killed_worker(owner, empty_queue, settings):
    stale = timezone.now() - timedelta(seconds=settings.OPERATION_STALE_SECONDS + 1)
    operation_of(owner, status=OperationStatus.IN_PROGRESS, heartbeat=stale)
    operation_of(owner, status=OperationStatus.IN_PROGRESS, heartbeat=timezone.now())  # alive
    assert sweeper.sweep() == 1
    assert sweeper.sweep() == 0  # its message is waiting now


def test_recovery_after_a_worker_kill_is_under_30_seconds_by_default():
    worst_case = defaults.OPERATION_STALE_SECONDS + defaults.OPERATION_SWEEP_SECONDS
    assert worst_case < 30
    assert defaults.OPERATION_HEARTBEAT_SECONDS * 3 <= defaults.OPERATION_STALE_SECONDS
