"""Brute-force protection for password logins: a per-client-address rate under the ``login`` scope."""
from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class LoginRateThrottle(SimpleRateThrottle):
    """Counts every login attempt (good or bad) per client address; the rate is ``LOGIN_THROTTLE_RATE``."""

    scope = "login"

    def get_rate(self) -> str:
        return settings.LOGIN_THROTTLE_RATE  # read per request, so a changed setting applies at once

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
