"""Reads, always scoped to the requesting user: an unscoped query cannot be written by accident."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from datalab.datalab_session.models import DataOperation, DataSession, OutputFile


def sessions_for(*, user: AbstractBaseUser) -> QuerySet[DataSession]:
    return DataSession.objects.filter(user=user).prefetch_related("operations")


def session_for(*, user: AbstractBaseUser, session_id: object) -> DataSession:
    """The user's session, or 404 for anything else (including a stranger's id)."""
    try:
        return DataSession.objects.get(user=user, pk=int(str(session_id)))
    except (DataSession.DoesNotExist, ValueError):
        raise Http404 from None


def operations_for(*, user: AbstractBaseUser, session_id: object) -> QuerySet[DataOperation]:
    session = session_for(user=user, session_id=session_id)
    return DataOperation.objects.filter(user=user, session=session).order_by("created", "id")


def output_records_by_basename(basenames: set[str]) -> dict[str, OutputFile | None]:
    """The output records of these basenames in one query; None for a basename whose output is gone."""
    if not basenames:
        return {}
    found = {record.basename: record for record in OutputFile.objects.filter(basename__in=basenames)}
    return {basename: found.get(basename) for basename in basenames}


def output_file_for(*, user: AbstractBaseUser, basename: str) -> OutputFile | None:
    return OutputFile.objects.filter(user=user, basename=basename).first()


def archive_token_for(user: AbstractBaseUser) -> str | None:
    """The user's own archive token; None lets the archive client fall back to ARCHIVE_API_TOKEN."""
    profile = getattr(user, "profile", None)
    return (profile.archive_token if profile else "") or None
