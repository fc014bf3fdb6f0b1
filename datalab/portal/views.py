"""Login endpoints with the observation portal's paths, so the front end's ``observationPortalUrl``
can point at this service: ``POST api-token-auth/`` and ``GET profile/``.
"""
from __future__ import annotations

from django.contrib.auth import authenticate
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from datalab.portal.profiles import profile_answer
from datalab.portal.throttling import LoginRateThrottle

BAD_CREDENTIALS = "Unable to log in with the username and password given."


def _credential(request: Request, name: str) -> str:
    value = request.data.get(name) if hasattr(request.data, "get") else None
    if not isinstance(value, str) or not value:
        raise ValidationError("Both username and password are required.")
    return value


@api_view(["POST"])
@authentication_classes([])  # a stale token left in the browser must not block a fresh login
@permission_classes([AllowAny])
@throttle_classes([LoginRateThrottle])
def obtain_token_view(request: Request) -> Response:
    """``{username, password}`` -> ``{token}``; wrong credentials are a 400 with a sentence."""
    username, password = _credential(request, "username"), _credential(request, "password")
    user = authenticate(request._request, username=username, password=password)
    if user is None or not user.is_active:
        raise ValidationError(BAD_CREDENTIALS)
    token, _ = Token.objects.get_or_create(user=user)
    return Response({"token": token.key})


@api_view(["GET"])
def profile_view(request: Request) -> Response:
    """The logged-in user's name, email and proposals (from their archive rights)."""
    return Response(profile_answer(request.user))
