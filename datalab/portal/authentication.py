"""``Authorization: Token`` for this service's own tokens and, when ``PORTAL_API_URL`` is set, for
tokens issued by the observatory's portal (a deployment beside the real portal).

A portal token this service has not seen is checked once against the portal's ``profile/``; the
local user is created or updated from the answer and the token becomes their archive token. It is
re-checked at most every ``PORTAL_TOKEN_RECHECK_SECONDS``, so a token revoked at the portal stops
working here too. Outcomes are cached so a burst of requests makes one portal call:

- refused tokens are remembered for ``PORTAL_REFUSAL_CACHE_SECONDS`` (401 without asking again);
- after a failed call the portal is not asked again for ``PORTAL_OUTAGE_BACKOFF_SECONDS``: unknown
  tokens get 503 meanwhile, while users already known keep working on their last good check.
"""
from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from rest_framework import status
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed

from datalab.datalab_session.models import UserProfile
from datalab.portal.portal_client import PortalProfile, PortalUnavailable, fetch_profile

logger = logging.getLogger(__name__)

INVALID_TOKEN = "Invalid token."
OUTAGE_KEY = "portal:outage"


class PortalUnreachable(APIException):
    """503 for a token only the portal could vouch for while it cannot be asked.

    (Defined here: this module loads with DRF's settings, before ``rest_framework.views`` exists.)
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The observation portal cannot be reached to check this token; try again shortly."


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _checked_key(token: str) -> str:
    return f"portal:checked:{_digest(token)}"


def _refused_key(token: str) -> str:
    return f"portal:refused:{_digest(token)}"


class PortalTokenAuthentication(TokenAuthentication):
    """DRF token authentication that also accepts the observatory portal's API tokens."""

    def authenticate_credentials(self, key: str):
        try:
            return super().authenticate_credentials(key)
        except AuthenticationFailed:
            pass
        if not settings.PORTAL_API_URL:
            raise AuthenticationFailed(INVALID_TOKEN)
        return (portal_user(key), key)


def _known_portal_user(token: str):
    profile = (UserProfile.objects.select_related("user")
               .filter(archive_token=token, user__is_active=True).first())
    return profile.user if profile else None


def portal_user(token: str):
    """The local user holding portal token ``token``; AuthenticationFailed or PortalUnreachable otherwise."""
    if cache.get(_refused_key(token)):
        raise AuthenticationFailed(INVALID_TOKEN)
    known = _known_portal_user(token)
    if known is not None and cache.get(_checked_key(token)):
        return known
    if cache.get(OUTAGE_KEY):
        return _during_outage(known)
    try:
        answer = fetch_profile(token)
    except PortalUnavailable as error:
        logger.warning("portal token check failed: %s", error)
        cache.set(OUTAGE_KEY, True, settings.PORTAL_OUTAGE_BACKOFF_SECONDS)
        return _during_outage(known)
    if answer is None:
        cache.set(_refused_key(token), True, settings.PORTAL_REFUSAL_CACHE_SECONDS)
        UserProfile.objects.filter(archive_token=token).update(archive_token="")
        raise AuthenticationFailed(INVALID_TOKEN)
    user = link_portal_user(token, answer)
    cache.set(_checked_key(token), True, settings.PORTAL_TOKEN_RECHECK_SECONDS)
    return user


def _during_outage(known):
    if known is not None:
        return known  # never lock out a user the portal vouched for before
    raise PortalUnreachable()


@transaction.atomic
def link_portal_user(token: str, answer: PortalProfile):
    """Create or update the local user the portal described, with ``token`` as their archive token."""
    user_model = get_user_model()
    user = user_model.objects.select_for_update().filter(username=answer.username).first()
    if user is None:
        user = user_model(username=answer.username)
        user.set_unusable_password()  # portal users log in with the portal's token only
    elif user.has_usable_password():
        # A local account with a password: a portal account of the same name must not take it over.
        logger.warning("portal user %s collides with a local account", answer.username)
        raise AuthenticationFailed("This portal account's username belongs to a local account of this service.")
    if not user.is_active and user.pk:
        raise AuthenticationFailed("User inactive or deleted.")
    user.email, user.first_name, user.last_name = answer.email, answer.first_name, answer.last_name
    user.save()
    profile, _ = UserProfile.objects.select_for_update().get_or_create(user=user)
    if profile.archive_token and profile.archive_token != token:
        # The user's previous portal token is superseded; forget that it was ever checked.
        cache.delete(_checked_key(profile.archive_token))
    UserProfile.objects.filter(archive_token=token).exclude(pk=profile.pk).update(archive_token="")
    profile.archive_token = token
    profile.archive_proposals = answer.proposals
    profile.save()
    return user

