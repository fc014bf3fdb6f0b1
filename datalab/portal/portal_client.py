"""Asking the observatory's portal who holds a token: one bounded GET of ``<PORTAL_API_URL>profile/``.

Answers are sorted into three outcomes, because the caller treats them differently: the portal
knows the token (its profile), the portal refuses it (401/403), or the portal could not be asked
(timeout, connection error, 5xx, garbage), which must never be mistaken for a refusal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings


class PortalUnavailable(Exception):
    """The portal could not give an answer about the token (outage, timeout, bad answer)."""


@dataclass(frozen=True)
class PortalProfile:
    username: str
    email: str
    first_name: str
    last_name: str
    proposals: list[str]


def portal_profile_url() -> str:
    return settings.PORTAL_API_URL.rstrip("/") + "/profile/"


def _text(answer: dict[str, Any], key: str) -> str:
    value = answer.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse_profile(answer: Any) -> PortalProfile:
    """The fields this service keeps from a portal profile; raises PortalUnavailable on nonsense."""
    if not isinstance(answer, dict) or not _text(answer, "username"):
        raise PortalUnavailable("The portal's profile answer has no username.")
    proposals = answer.get("proposals") if isinstance(answer.get("proposals"), list) else []
    ids = sorted({str(item["id"]) for item in proposals if isinstance(item, dict) and item.get("id")})
    return PortalProfile(
        username=_text(answer, "username")[:150], email=_text(answer, "email")[:254],
        first_name=_text(answer, "first_name")[:150], last_name=_text(answer, "last_name")[:150],
        proposals=ids,
    )


def fetch_profile(token: str) -> PortalProfile | None:
    """The portal's profile of the token's holder; None when the portal refuses the token.

    One attempt with ``PORTAL_TIMEOUT_SECONDS`` (no retries here: callers cache outcomes instead).
    """
    try:
        response = requests.get(
            portal_profile_url(),
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
            timeout=settings.PORTAL_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise PortalUnavailable(f"The portal could not be reached: {type(error).__name__}.") from error
    if response.status_code in (401, 403):
        return None
    if response.status_code != 200:
        raise PortalUnavailable(f"The portal answered HTTP {response.status_code}.")
    try:
        return parse_profile(response.json())
    except ValueError as error:
        raise PortalUnavailable("The portal's profile answer is not JSON.") from error
