"""The user description the observation portal's ``profile/`` answers, built from local state.

The front end keeps the whole answer and reads ``proposals`` (``[{id, title, current}]``); the
other keys follow the portal's names so that code written against the portal finds them.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from datalab.datalab_session.models import UserProfile
from datalab.local_archive.demo_proposals import DEMO_PROPOSAL_TITLES


def proposal_ids(user: AbstractBaseUser) -> list[str]:
    """Proposals whose proprietary frames the user may see (their archive rights), sorted."""
    profile = UserProfile.objects.filter(user=user).first()
    listed = profile.archive_proposals if profile and isinstance(profile.archive_proposals, list) else []
    return sorted({str(proposal) for proposal in listed if proposal})


def proposal_title(proposal_id: str) -> str:
    """A proposal's title from ``PROPOSAL_TITLES`` (a deployment's), the demo sky's, else its id."""
    titles = {**DEMO_PROPOSAL_TITLES, **(getattr(settings, "PROPOSAL_TITLES", {}) or {})}
    return str(titles.get(proposal_id) or proposal_id)


def profile_answer(user: AbstractBaseUser) -> dict[str, Any]:
    """What ``GET …/profile/`` returns for ``user``."""
    return {
        "username": user.get_username(),
        "first_name": getattr(user, "first_name", ""),
        "last_name": getattr(user, "last_name", ""),
        "email": getattr(user, "email", ""),
        "is_staff": bool(getattr(user, "is_staff", False)),
        "is_superuser": bool(getattr(user, "is_superuser", False)),
        "proposals": [
            {"id": proposal, "title": proposal_title(proposal), "current": True}
            for proposal in proposal_ids(user)
        ],
    }
