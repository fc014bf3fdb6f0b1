"""The web role's /metrics answers the cluster's Prometheus only, not any client of the web port."""
from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
REFUSED = {"error": "Metrics are only served to the cluster's Prometheus."}


@pytest.mark.parametrize("address", ["127.0.0.1", "10.2.3.4", "192.168.1.9", "::1"])
def test_direct_scrapes_from_private_networks_are_answered(address):
    response = Client(REMOTE_ADDR=address).get("/metrics")
    assert response.status_code == 200
    assert b"datalab_operations_queued" in response.content or b"# TYPE" in response.content


@pytest.mark.parametrize(("address", "headers"), [
    ("203.0.113.5", {}),
    ("2001:db8::1", {}),
    ("10.0.0.7", {"HTTP_X_FORWARDED_FOR": "203.0.113.5"}),  # through a proxy: the client is outside
])
def test_public_clients_are_refused(address, headers):
    response = Client(REMOTE_ADDR=address).get("/metrics", **headers)
    assert (response.status_code, response.json()) == (403, REFUSED)


def test_a_metrics_token_is_required_when_set(settings):
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    answered = Client(REMOTE_ADDR="203.0.113.5").get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-0123456789")
    assert answered.status_code == 200
