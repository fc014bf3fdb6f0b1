"""Who may scrape the web role's ``/metrics``: Prometheus inside the cluster, not the internet.

With ``METRICS_TOKEN`` set a scrape must send ``Authorization: Bearer <token>``. Without it only
direct requests from ``METRICS_ALLOWED_NETWORKS`` (loopback and private networks by default) are
answered; a request that came through a proxy (it carries ``X-Forwarded-For``) is refused, since
the proxy's own private address says nothing about the client behind it.
"""
from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(text.strip(), strict=False) for text in settings.METRICS_ALLOWED_NETWORKS
            if text.strip()]


def may_scrape(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode())
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in network for network in _networks())
