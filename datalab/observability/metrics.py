"""Prometheus metrics of operations, and the scrape endpoint of the web role.

Where each number comes from, so it is right with any number of pods:

* Queued and running operations are counted in PostgreSQL at scrape time (the source of truth),
  by :class:`OperationStateCollector` on the web's ``/metrics``.
* Finished operations, their durations, archive bytes downloaded and frame cache lookups are
  counted where they happen, in worker processes. Workers run prometheus_client in multiprocess
  mode (``PROMETHEUS_MULTIPROC_DIR``), so every process of a worker pod writes to one directory
  and Dramatiq's Prometheus middleware serves the sum, with Dramatiq's own message metrics, on
  the worker pod's metrics port.
* HTTP request metrics come from django-prometheus on the web pods (also multiprocess-safe, for
  gunicorn's several workers).

The frame cache hit ratio is
``sum(rate(datalab_frame_cache_lookups_total{result="hit"}[5m])) / sum(rate(datalab_frame_cache_lookups_total[5m]))``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from datalab.observability.metrics_access import may_scrape

logger = logging.getLogger(__name__)
timing_logger = logging.getLogger("datalab.operations")

OPERATIONS_FINISHED = Counter(
    "datalab_operations_finished_total",
    "Operation attempts that ended, by operation name and outcome "
    "(completed, failed, cancelled, retry, lost-claim).",
    ["operation", "outcome"],
)
OPERATION_DURATION = Histogram(
    "datalab_operation_duration_seconds",
    "Wall time of one operation attempt in a worker, by operation name and outcome.",
    ["operation", "outcome"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf")),
)
ARCHIVE_BYTES_DOWNLOADED = Counter(
    "datalab_archive_downloaded_bytes_total", "Bytes of frames downloaded from the observatory archive."
)
FRAME_CACHE_LOOKUPS = Counter(
    "datalab_frame_cache_lookups_total", "Frame cache lookups by result (hit or miss).", ["result"]
)


def record_frame_cache_lookup(*, hit: bool) -> None:
    FRAME_CACHE_LOOKUPS.labels(result="hit" if hit else "miss").inc()


def record_bytes_downloaded(count: int) -> None:
    ARCHIVE_BYTES_DOWNLOADED.inc(count)


def operation_finished(*, operation_id: int, outcome: str, duration_seconds: float) -> None:
    """Count, time and log one finished attempt: the one timing line per operation attempt."""
    from datalab.datalab_session.models import DataOperation

    if outcome == "skipped":  # a duplicate or stale message: no attempt was made
        return
    try:
        row = DataOperation.objects.filter(pk=operation_id).values("name", "input_data", "status").first()
    except Exception:  # noqa: BLE001 - the timing line must not mask what happened to the operation
        row = None
    name = row["name"] if row else "unknown"
    inputs = _count_inputs(row["input_data"]) if row else 0
    OPERATIONS_FINISHED.labels(operation=name, outcome=outcome).inc()
    OPERATION_DURATION.labels(operation=name, outcome=outcome).observe(duration_seconds)
    timing_logger.info(
        "operation %s %s %s in %.2f s", operation_id, name, outcome, duration_seconds,
        extra={"event": "operation_finished", "operation_id": operation_id, "operation": name,
               "inputs": inputs, "outcome": outcome, "status": row["status"] if row else None,
               "duration_seconds": round(duration_seconds, 3)},
    )


def _count_inputs(input_data: Any) -> int:
    if not isinstance(input_data, dict):
        return 0
    return sum(len(value) for value in input_data.values() if isinstance(value, list))


class OperationStateCollector:
    """Queued and running operations per operation name, counted in the database at scrape time."""

    def collect(self) -> Iterator[Metric]:
        from django.db.models import Count

        from datalab.datalab_session.models import DataOperation, OperationStatus

        families = {
            OperationStatus.PENDING: GaugeMetricFamily(
                "datalab_operations_queued", "Operations waiting for a worker (PENDING).", labels=["operation"]),
            OperationStatus.IN_PROGRESS: GaugeMetricFamily(
                "datalab_operations_running", "Operations a worker is running (IN_PROGRESS).", labels=["operation"]),
        }
        try:
            rows = list(
                DataOperation.objects.filter(status__in=list(families)).values("status", "name")
                .annotate(count=Count("id")).order_by()
            )
        except Exception as error:  # noqa: BLE001 - a scrape must not fail because the database did
            logger.warning("could not count operations for metrics: %s", error)
            return
        for row in rows:
            families[row["status"]].add_metric([row["name"]], row["count"])
        yield from families.values()


class _Union:
    """Several collectors scraped as one registry."""

    def __init__(self, *sources: Any):
        self.sources: Iterable[Any] = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def _process_metrics() -> Any:
    """This process's metrics, or every process's when prometheus_client runs in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition: request metrics, worker-independent operation state."""
    if not may_scrape(request):
        return JsonResponse({"error": "Metrics are only served to the cluster's Prometheus."}, status=403)
    body = generate_latest(_Union(_process_metrics(), OperationStateCollector()))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
