"""Probes of the web role: ``/healthz`` (the process answers) and ``/readyz`` (its dependencies do).

Readiness runs django-health-check's checks of the database, Redis (when the queue uses it) and
the output storage (a file written, read back and deleted), and answers JSON: 200 when all pass,
503 naming the failing ones otherwise.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from health_check.checks import Database, Storage
from health_check.views import HealthCheckView


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: answering at all is the test; no dependency is touched."""
    return JsonResponse({"status": "ok"})


def _redis_client():
    from redis.asyncio import Redis

    return Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3)


def readiness_checks() -> list[Any]:
    checks: list[Any] = [Database(), Storage()]
    if settings.REDIS_URL:
        from health_check.contrib.redis import Redis

        checks.append(Redis(client_factory=_redis_client))
    return checks


class ReadinessView(HealthCheckView):
    """django-health-check's view, answering JSON whatever the Accept header, 503 when unready."""

    def get_checks(self):
        yield from readiness_checks()

    def render_to_response(self, context, **response_kwargs):
        return self.render_to_response_json(response_kwargs.get("status", 200))

    def render_to_response_json(self, status):
        return super().render_to_response_json(200 if status == 200 else 503)
