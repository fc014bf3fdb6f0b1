"""Login throttling: password guessing on any login endpoint is slowed to ``LOGIN_THROTTLE_RATE``.

One DRF throttle with the scope ``login`` (``datalab.portal.throttling.LoginRateThrottle``), counted
per client address in the default cache (Redis when REDIS_URL is set, so all gunicorn workers and
pods share the count). DRF views use it as a throttle class; Django views (the admin login) use
``login_throttled_response``.
"""
from __future__ import annotations

import math

from django.http import HttpRequest, JsonResponse

from datalab.portal.throttling import LoginRateThrottle

TOO_MANY_ATTEMPTS = "Too many login attempts; try again in {seconds} s."


def login_throttled_response(request: HttpRequest) -> JsonResponse | None:
    """A 429 ``{"error"}`` when this address used up its login attempts, else None (and it counts one)."""
    throttle = LoginRateThrottle()
    if throttle.allow_request(request, None):
        return None
    seconds = max(1, math.ceil(throttle.wait() or 1))
    response = JsonResponse({"error": TOO_MANY_ATTEMPTS.format(seconds=seconds)}, status=429)
    response["Retry-After"] = str(seconds)
    return response
