"""Cancelling operations: the API action, the admin actions, and a running worker that stops."""
from __future__ import annotations

import pytest
from django.urls import reverse

from data_operations.base import OperationResult
from datalab.datalab_session import runner, services
from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus, OutputFile

pytestmark = pytest.mark.django_db

CANCELLED = "Cancelled by the user."


def operation_of(user, *, status: str = OperationStatus.PENDING, key: str = "k1", **fields) -> DataOperation:
    session = DataSession.objects.create(user=user, name="s")
    return DataOperation.objects.create(
        session=session, user=user, name="Median", cache_key=key, status=status,
        input_data={"input_files": [{"source": "archive", "basename": f"frame-{key}"}]}, **fields,
    )


def cancel_url(operation: DataOperation) -> str:
    return f"/api/datasessions/{operation.session_id}/operations/{operation.pk}/cancel/"


@pytest.mark.parametrize("status", [OperationStatus.PENDING, OperationStatus.IN_PROGRESS])
def test_cancel_ends_unfinished_operation_as_failed(owner, owner_api, status):
    operation = operation_of(owner, status=status, claim_token="attempt-1")
    response = owner_api.post(cancel_url(operation))
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["message"]) == ("FAILED", CANCELLED)
    operation.refresh_from_db()
    assert (operation.status, operation.message, operation.claim_token) == ("FAILED", CANCELLED, "")
    assert operation.finished_at is not None


def test_cancel_twice_answers_the_same(owner, owner_api):
    operation = operation_of(owner)
    assert owner_api.post(cancel_url(operation)).status_code == 200
    again = owner_api.post(cancel_url(operation))
    assert again.status_code == 200 and again.json()["message"] == CANCELLED


def test_cancel_of_finished_operation_is_a_conflict(owner, owner_api):
    operation = operation_of(owner, status=OperationStatus.COMPLETED, output={"output_files": []})
    response = owner_api.post(cancel_url(operation))
    assert response.status_code == 409
    assert response.json() == {"error": f"Operation {operation.pk} is already COMPLETED; only PENDING or "
                                        "IN_PROGRESS operations can be cancelled."}
    operation.refresh_from_db()
    assert operation.status == OperationStatus.COMPLETED


def test_stranger_cannot_cancel(owner, stranger_api):
    operation = operation_of(owner)
    assert stranger_api.post(cancel_url(operation)).status_code == 404
    operation.refresh_from_db()
    assert operation.status == OperationStatus.PENDING


def test_cancelled_pending_operation_is_never_claimed(owner, owner_api):
    operation = operation_of(owner)
    owner_api.post(cancel_url(operation))
    assert runner.execute(operation.pk) == "skipped"
    operation.refresh_from_db()
    assert (operation.status, operation.message, operation.attempts) == ("FAILED", CANCELLED, 0)


class CancelledMidway:
    """An operation during which the user cancels; it keeps reporting progress, as real ones do."""

    reached_after_cancel = False

    def __init__(self, input_data):
        self.input_data = input_data

    def operate(self, context) -> OperationResult:
        services.cancel_operation(operation=DataOperation.objects.get(pk=context.operation.pk))
        context.set_progress(1.0, "Still going.")
        CancelledMidway.reached_after_cancel = True
        return OperationResult(output_files=[], output_data={"never": "stored"})


def test_running_worker_stops_at_next_progress_update(owner, monkeypatch, settings):
    monkeypatch.setattr(runner, "get_operation_class", lambda name: CancelledMidway)
    operation = operation_of(owner)
    assert runner.execute(operation.pk) == "cancelled"
    assert CancelledMidway.reached_after_cancel is False
    operation.refresh_from_db()
    assert (operation.status, operation.message, operation.output) == ("FAILED", CANCELLED, None)
    assert OutputFile.objects.count() == 0
    assert list(settings.OPERATION_TEMP_DIR.iterdir()) == []


def test_admin_actions_go_through_the_state_machine(owner, admin_client):
    pending = operation_of(owner, key="a")
    failed = operation_of(owner, status=OperationStatus.FAILED, key="b", attempts=3, message="Gave up.")
    completed = operation_of(owner, status=OperationStatus.COMPLETED, key="c", output={"output_files": []})
    changelist = reverse("admin:datalab_session_dataoperation_changelist")
    ids = [str(op.pk) for op in (pending, failed, completed)]

    response = admin_client.post(changelist, {"action": "cancel_unfinished", "_selected_action": ids}, follow=True)
    assert response.status_code == 200
    texts = [str(message) for message in response.context["messages"]]
    assert texts == ["1 operation(s) cancelled.",
                     "2 operation(s) left unchanged: only PENDING or IN_PROGRESS ones can be cancelled."]

    admin_client.post(changelist, {"action": "rerun_failed", "_selected_action": [str(failed.pk)]})
    statuses = {op.pk: (op.status, op.message, op.attempts) for op in DataOperation.objects.all()}
    assert statuses[pending.pk] == ("FAILED", CANCELLED, 0)
    assert statuses[failed.pk] == ("PENDING", "Resubmitted.", 0)
    assert statuses[completed.pk][0] == "COMPLETED"


def test_admin_finds_operations_by_input_basename(owner, admin_client):
    wanted = operation_of(owner, key="wanted")
    operation_of(owner, key="other")
    changelist = reverse("admin:datalab_session_dataoperation_changelist")
    response = admin_client.get(changelist, {"q": "frame-wanted"})
    assert [op.pk for op in response.context["cl"].result_list] == [wanted.pk]
