"""Who may see which frame of the local archive: the one rule the HTTP API and in-process callers share.

Public frames are visible to everyone; proprietary frames only to members of their proposal, named
by a token (a DRF token or a profile's archive token).
"""
from __future__ import annotations

from pathlib import Path

from django.db.models import Q
from rest_framework.authtoken.models import Token

from datalab.datalab_session.models import UserProfile
from datalab.local_archive.indexing import archive_root
from datalab.local_archive.models import ArchiveFrame, ArchiveFrameQuerySet


def proposals_for_token(token: str | None) -> list[str]:
    """Proposals whose proprietary frames ``token`` (a DRF token or a profile's archive token) sees."""
    if not token:
        return []  # never match the empty archive_token of profiles that have none
    profiles = UserProfile.objects.filter(user__is_active=True).filter(
        Q(archive_token=token) | Q(user__in=Token.objects.filter(key=token).values("user_id"))
    )
    proposals: set[str] = set()
    for listed in profiles.values_list("archive_proposals", flat=True):
        if isinstance(listed, list):
            proposals.update(str(proposal) for proposal in listed if proposal)
    return sorted(proposals)


def frames_visible_to(token: str | None) -> ArchiveFrameQuerySet:
    return ArchiveFrame.objects.visible_to(proposals=proposals_for_token(token))


def visible_frame_file(*, basename: str, token: str | None) -> tuple[ArchiveFrame, Path] | None:
    """The frame ``basename`` and its file, if ``token`` may see it and the file is there; else None."""
    frame = frames_visible_to(token).defer("headers").filter(basename=basename).first()
    if frame is None:
        return None
    path = archive_root() / frame.path
    return (frame, path) if path.is_file() else None
