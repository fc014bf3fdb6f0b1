"""The two password logins, throttled: the API token endpoint and the admin's login form."""
from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser

from datalab.parsers import BoundedJSONParser
from datalab.portal.throttling import LoginRateThrottle
from datalab.throttles import TOO_MANY_ATTEMPTS, login_throttled_response


class ThrottledObtainAuthToken(ObtainAuthToken):
    """``POST /api/auth/token/`` with username and password; 429 after LOGIN_THROTTLE_RATE attempts."""

    throttle_classes = [LoginRateThrottle]
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]

    def throttled(self, request, wait):
        seconds = max(1, math.ceil(wait or 1))
        error = exceptions.Throttled(detail=TOO_MANY_ATTEMPTS.format(seconds=seconds))
        error.wait = seconds  # DRF's handler turns it into Retry-After
        raise error


obtain_auth_token = ThrottledObtainAuthToken.as_view()


def login_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A Django login view whose POSTs (password attempts) count against the login throttle."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            refused = login_throttled_response(request)
            if refused is not None:
                return refused
        return view(request, *args, **kwargs)

    return wrapper


admin_login = login_throttled(admin.site.login)
browsable_api_login = login_throttled(LoginView.as_view(template_name="rest_framework/login.html"))
