"""Writes: creating sessions and operations, merging inputs, deleting. Views stay thin."""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.status import HTTP_409_CONFLICT, HTTP_429_TOO_MANY_REQUESTS

from data_operations.registry import available_operations, get_operation_class
from datalab.datalab_session.models import (
    CANCELLED_MESSAGE,
    UNFINISHED_STATUSES,
    DataOperation,
    DataSession,
    OperationStatus,
    OutputFile,
    UserProfile,
)
from datalab.datalab_session.outputs import outputs_intact
from datalab.datalab_session.queue import enqueue_operation
from datalab.observability.request_id import current_request_id


def _item_identity(item: Any) -> str:
    """Two session input items are the same file when source and basename agree."""
    if isinstance(item, dict) and item.get("basename"):
        return f"{item.get('source', 'archive')}:{item['basename']}"
    return json.dumps(item, sort_keys=True)


def merge_input_items(existing: list, incoming: list) -> list:
    """Existing items in order, then incoming items not already present (no duplicates)."""
    merged = list(existing)
    seen = {_item_identity(item) for item in merged}
    for item in incoming:
        identity = _item_identity(item)
        if identity not in seen:
            merged.append(item)
            seen.add(identity)
    return merged


def _check_session_input(input_data: Any) -> list:
    if input_data is None:
        return []
    if not isinstance(input_data, list):
        raise ValidationError("input_data must be a list of data items.")
    if len(input_data) > settings.OPERATION_MAX_INPUT_FILES * 4:
        raise ValidationError(f"input_data holds at most {settings.OPERATION_MAX_INPUT_FILES * 4} items.")
    if any(not isinstance(item, dict) for item in input_data):
        raise ValidationError("Each input_data item must be an object.")
    return input_data


def create_session(*, user: AbstractBaseUser, name: str, input_data: Any) -> DataSession:
    items = merge_input_items([], _check_session_input(input_data))
    return DataSession.objects.create(user=user, name=name, input_data=items)


def update_session(*, session: DataSession, name: str | None = None, input_data: Any = None) -> DataSession:
    if name is not None:
        session.name = name
    if input_data is not None:
        session.input_data = merge_input_items(session.input_data or [], _check_session_input(input_data))
    session.save()
    return session


def touch_session(*, session: DataSession) -> None:
    DataSession.objects.filter(pk=session.pk).update(accessed=timezone.now())


def _check_datalab_inputs(*, user: AbstractBaseUser, operation_class, input_data: dict) -> None:
    """Outputs used as inputs must be the user's own."""
    for key, spec in operation_class.input_specs().items():
        if spec.get("type") != "fits":
            continue
        for item in input_data.get(key) or []:
            if item.get("source") == "datalab" and not OutputFile.objects.filter(
                user=user, basename=item["basename"]
            ).exists():
                raise ValidationError(f"Input {item['basename']} is not one of your Datalab outputs.")


def validated_operation_class(*, name: Any, input_data: Any):
    if not isinstance(name, str) or not name:
        raise ValidationError("name is required: the exact name of an available operation.")
    operation_class = get_operation_class(name)
    if operation_class is None:
        known = ", ".join(sorted(available_operations()))
        raise ValidationError(f"Unknown operation '{name}'. Available operations: {known}.")
    operation_class.validate_input_data(input_data, max_files=settings.OPERATION_MAX_INPUT_FILES)
    return operation_class


def create_operation(
    *, user: AbstractBaseUser, session: DataSession, name: Any, input_data: Any
) -> tuple[DataOperation, bool]:
    """Create (or find) the operation for this request; returns (operation, created).

    The same request twice in one session yields the same operation. A finished identical
    operation of the same user elsewhere lends its result instead of recomputing.
    """
    operation_class = validated_operation_class(name=name, input_data=input_data)
    _check_datalab_inputs(user=user, operation_class=operation_class, input_data=input_data)
    cache_key = operation_class.cache_key(input_data)

    existing = DataOperation.objects.filter(session=session, cache_key=cache_key).first()
    if existing is not None:
        return _resubmit(existing), False

    finished = (
        DataOperation.objects.filter(user=user, cache_key=cache_key, status=OperationStatus.COMPLETED)
        .order_by("-finished_at")
        .first()
    )
    if finished is not None and not outputs_intact(finished.output):
        finished = None  # its files are gone from storage: compute again
    try:
        with transaction.atomic():
            if finished is not None:
                operation = DataOperation.objects.create(
                    session=session, user=user, name=name, input_data=input_data, cache_key=cache_key,
                    status=OperationStatus.COMPLETED, operation_progress=1.0, output=finished.output,
                    message=f"Reused the result of the identical operation #{finished.pk}.",
                    finished_at=timezone.now(),
                )
            else:
                _check_unfinished_quota(user)
                operation = DataOperation.objects.create(
                    session=session, user=user, name=name, input_data=input_data, cache_key=cache_key,
                    request_id=current_request_id() or "",
                )
                enqueue_operation(operation.pk)
    except IntegrityError:
        # A concurrent identical request won the race: answer with its operation.
        return DataOperation.objects.get(session=session, cache_key=cache_key), False
    return operation, True


def _resubmit(operation: DataOperation) -> DataOperation:
    """Submitting a FAILED operation again gives it a fresh set of attempts (within the user's quota)."""
    if operation.status == OperationStatus.FAILED:
        with transaction.atomic():
            _check_unfinished_quota(operation.user)
            change_operation_state(operation=operation, action="rerun")
    return operation


class TooManyUnfinishedOperations(APIException):
    status_code = HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many unfinished operations."


def _check_unfinished_quota(user: AbstractBaseUser) -> None:
    """Refuse one more operation to a user who already has OPERATION_MAX_UNFINISHED_PER_USER waiting or running.

    Runs inside the transaction that adds the operation; locking the user's profile row makes
    concurrent submissions of one user count one after the other, so the limit holds exactly.
    """
    limit = settings.OPERATION_MAX_UNFINISHED_PER_USER
    UserProfile.objects.select_for_update().filter(user=user).first()
    unfinished = DataOperation.objects.filter(user=user, status__in=UNFINISHED_STATUSES).count()
    if unfinished >= limit:
        raise TooManyUnfinishedOperations(
            f"You have {unfinished} unfinished operations, the most allowed at once is {limit}: "
            "wait for some to finish, or cancel some, before submitting more."
        )


class OperationStateConflict(APIException):
    status_code = HTTP_409_CONFLICT
    default_detail = "The operation's status does not allow this action."


def change_operation_state(*, operation: DataOperation, action: str) -> bool:
    """Apply ``action`` ("cancel" or "rerun") if the operation's status allows it; True when it changed.

    The one place where users and operators change an operation's status: the API's cancel and
    resubmission, and the admin's actions. "cancel" takes PENDING or IN_PROGRESS to FAILED with
    CANCELLED_MESSAGE (clients know only the four statuses) and clears the claim, so the running
    attempt's claim-guarded writes no longer match and it stops at its next progress update.
    "rerun" takes FAILED back to PENDING with fresh attempts and enqueues it.
    """
    now = timezone.now()
    if action == "cancel":
        allowed = [OperationStatus.PENDING, OperationStatus.IN_PROGRESS]
        fields = {"status": OperationStatus.FAILED, "message": CANCELLED_MESSAGE, "claim_token": "",
                  "finished_at": now}
    elif action == "rerun":
        allowed = [OperationStatus.FAILED]
        fields = {"status": OperationStatus.PENDING, "attempts": 0, "operation_progress": 0.0,
                  "message": "Resubmitted.", "output": None, "claim_token": "", "finished_at": None,
                  "not_before": None, "request_id": current_request_id() or ""}
    else:
        raise ValueError(f"unknown operation action {action!r}")
    with transaction.atomic():
        changed = bool(
            DataOperation.objects.filter(pk=operation.pk, status__in=allowed).update(**fields, modified=now)
        )
        if changed and action == "rerun":
            enqueue_operation(operation.pk)
    operation.refresh_from_db()
    return changed


def cancel_operation(*, operation: DataOperation) -> DataOperation:
    """Cancel a PENDING or IN_PROGRESS operation; cancelling a cancelled one again changes nothing."""
    changed = change_operation_state(operation=operation, action="cancel")
    if changed or (operation.status == OperationStatus.FAILED and operation.message == CANCELLED_MESSAGE):
        return operation
    raise OperationStateConflict(
        f"Operation {operation.pk} is already {operation.status}; only PENDING or IN_PROGRESS operations "
        "can be cancelled."
    )


def delete_operations(*, session: DataSession, ids: Any) -> int:
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError("ids must be a list of operation ids.")
    deleted, _ = DataOperation.objects.filter(session=session, pk__in=ids).delete()
    return deleted
