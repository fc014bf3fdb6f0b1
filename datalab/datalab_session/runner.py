"""Running one operation in a worker: claim, compute, publish, record — each step guarded.

PostgreSQL holds the truth. A worker claims an operation with one conditional UPDATE
(``claims``), keeps a heartbeat while it computes, and writes the outcome only while it still
holds the claim, so a duplicate message, a crash or a re-run never corrupts a result. Retries and
the time limit are the database's too: the attempt counter, a back-off in ``not_before``, and
OPERATION_TIME_LIMIT_SECONDS checked at every progress report.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import close_old_connections
from django.utils import timezone

import datalab
from data_operations.base import BaseDataOperation, OperationResult
from data_operations.errors import OperationError, TransientError
from data_operations.photometry.gaia import GaiaProvider
from data_operations.photometry.horizons import HorizonsProvider
from data_operations.registry import get_operation_class
from datalab.archive.client import fetch_frame
from datalab.datalab_session.claims import claim, claim_next
from datalab.datalab_session.downloads import publish_downloads
from datalab.datalab_session.ephemerides import configured_horizons
from datalab.datalab_session.gaia import configured_gaia_provider
from datalab.datalab_session.models import CANCELLED_MESSAGE, DataOperation, OperationStatus, OutputFile
from datalab.datalab_session.outputs import delete_output_files, publish_output
from datalab.datalab_session.queue import enqueue_operation
from datalab.datalab_session.renderers import finite_json
from datalab.datalab_session.selectors import archive_token_for
from datalab.observability.request_id import bind_request_id, reset_request_id

logger = logging.getLogger(__name__)

__all__ = ["claim", "claim_next", "execute", "run_next"]


class ClaimLost(Exception):
    """This attempt no longer holds the claim (the user cancelled, or another attempt took over): stop."""


class OverTimeLimit(Exception):
    """The operation passed OPERATION_TIME_LIMIT_SECONDS; raised at its next progress report."""


class WorkerContext:
    """The OperationContext the worker hands to an operation (see data_operations.context)."""

    def __init__(self, operation: DataOperation, claim_token: str, temp_dir: Path, *, deadline: float):
        self.operation = operation
        self.claim_token = claim_token
        self._temp_dir = temp_dir
        self._deadline = deadline  # time.monotonic() value
        self._last_progress_write = 0.0

    @property
    def temp_dir(self) -> Path:
        return self._temp_dir

    @property
    def memory_budget_bytes(self) -> int:
        return settings.OPERATION_MEMORY_BUDGET_BYTES

    @property
    def memory_limit_bytes(self) -> int | None:
        return settings.OPERATION_MEMORY_LIMIT_BYTES or None

    @property
    def provenance(self) -> dict[str, Any]:
        return {
            "operation": self.operation.name,
            "operation_id": self.operation.pk,
            "software_version": datalab.__version__,
            "parameters": {k: v for k, v in self.operation.input_data.items() if not isinstance(v, list)},
        }

    @property
    def gaia_provider(self) -> GaiaProvider:
        """Gaia cones for the operations that ask for one (see datalab_session.gaia)."""
        return configured_gaia_provider()

    @property
    def horizons_provider(self) -> HorizonsProvider | None:
        """JPL Horizons for operations that look a moving target up by designation (None when not offered)."""
        return configured_horizons()

    def input_path(self, item: dict[str, Any]) -> Path:
        basename = item["basename"]
        if item.get("source") == "datalab":
            return self._output_input_path(basename)
        cached = fetch_frame(basename=basename, token=archive_token_for(self.operation.user))
        return self._pin(cached)

    def _pin(self, cached: Path) -> Path:
        """Hard-link a cached frame into the temp dir, so cache eviction cannot pull it away mid-run."""
        pinned = self._temp_dir / "inputs" / cached.name
        pinned.parent.mkdir(parents=True, exist_ok=True)
        if pinned.exists():
            return pinned
        try:
            os.link(cached, pinned)
        except OSError:  # a cache on another file system: fall back to reading it in place
            return cached
        return pinned

    def _output_input_path(self, basename: str) -> Path:
        record = OutputFile.objects.filter(user=self.operation.user, basename=basename).first()
        if record is None or not record.fits_name:
            raise OperationError(f"Datalab output {basename} no longer exists or has no FITS file.")
        local = self._temp_dir / "inputs" / f"{basename}.fits"
        local.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(record.fits_name, "rb") as source, open(local, "wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        return local

    def set_progress(self, fraction: float, message: str = "") -> None:
        """Record progress (at most twice a second), and stop the operation once past its time limit.

        Operations report progress between bands, so stopping here happens at a safe point, never
        inside a lock or a half-submitted task as an asynchronous exception could.
        """
        now = time.monotonic()
        if now > self._deadline:
            raise OverTimeLimit()
        if now - self._last_progress_write < 0.5 and fraction < 1.0:
            return
        self._last_progress_write = now
        updates: dict[str, Any] = {
            "operation_progress": max(0.0, min(1.0, float(fraction))),
            "heartbeat": timezone.now(),
        }
        if message:
            updates["message"] = message
        if not DataOperation.objects.filter(pk=self.operation.pk, claim_token=self.claim_token).update(**updates):
            raise ClaimLost(f"Operation {self.operation.pk} was cancelled or claimed by another attempt.")


class Heartbeat(threading.Thread):
    """Touches the claim periodically so the sweeper can tell a live attempt from a dead one."""

    def __init__(self, operation_id: int, claim_token: str):
        super().__init__(daemon=True, name=f"heartbeat-{operation_id}")
        self.operation_id = operation_id
        self.claim_token = claim_token
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(settings.OPERATION_HEARTBEAT_SECONDS):
            try:
                DataOperation.objects.filter(pk=self.operation_id, claim_token=self.claim_token).update(
                    heartbeat=timezone.now()
                )
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                logger.warning("Heartbeat for operation %s failed", self.operation_id, exc_info=True)
            finally:
                close_old_connections()

    def stop(self) -> None:
        self.stopped.set()


def _finish(operation_id: int, holder: str, **fields: Any) -> bool:
    """Write a terminal or retry state, only if this attempt (``holder``) still holds the claim."""
    fields.setdefault("modified", timezone.now())
    return bool(DataOperation.objects.filter(pk=operation_id, claim_token=holder).update(**fields))


def _publish(operation: DataOperation, result: OperationResult) -> dict[str, Any]:
    """Store every product, or none: a failure part-way removes what was already stored."""
    output: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    try:
        for index, produced in enumerate(result.output_files, start=1):
            entries.append(publish_output(operation=operation, produced=produced, index=index))
    except BaseException:
        delete_output_files(list(OutputFile.objects.filter(basename__in=[e["basename"] for e in entries])))
        raise
    if entries:
        output["output_files"] = entries
    if result.output_data:
        output["output_data"] = finite_json(result.output_data)
        publish_downloads(operation, result.data_files, output["output_data"])
    return output or {"output_files": []}


def _remove_leftovers(operation_id: int) -> None:
    """Temp dirs of earlier attempts of this operation: their workers are dead, since we hold the claim."""
    for leftover in settings.OPERATION_TEMP_DIR.glob(f"op{operation_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def run_next() -> tuple[int | None, str]:
    """Claim the next operation in the fair order and run it; returns (its id, what happened)."""
    claimed = claim_next()
    if claimed is None:
        return None, "skipped"
    return claimed[0].pk, _run_claimed(*claimed)


def execute(operation_id: int) -> str:
    """Claim this operation and run it to a terminal (or retry) state; returns what happened."""
    claimed = claim(operation_id)
    if claimed is None:
        return "skipped"
    return _run_claimed(*claimed)


def _run_claimed(operation: DataOperation, token: str) -> str:
    """Run a claimed operation with the id of the request that created it bound to every log line."""
    bound = bind_request_id(operation.request_id or None)
    try:
        return _compute(operation, token)
    finally:
        reset_request_id(bound)


def _compute(operation: DataOperation, token: str) -> str:
    operation_id = operation.pk
    operation_class: type[BaseDataOperation] | None = get_operation_class(operation.name)
    settings.OPERATION_TEMP_DIR.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(operation_id)
    temp_dir = Path(tempfile.mkdtemp(prefix=f"op{operation_id}-", dir=settings.OPERATION_TEMP_DIR))
    heartbeat = Heartbeat(operation_id, token)
    heartbeat.start()
    started = time.monotonic()
    try:
        if operation_class is None:
            raise OperationError(f"Operation '{operation.name}' is no longer available on this server.")
        context = WorkerContext(operation, token, temp_dir, deadline=started + settings.OPERATION_TIME_LIMIT_SECONDS)
        result = operation_class(operation.input_data).operate(context)
        output = _publish(operation, result)
        message = " ".join([*result.warnings, f"Completed in {time.monotonic() - started:.1f} s."])
        if not _finish(
            operation_id, token, status=OperationStatus.COMPLETED, output=output, operation_progress=1.0,
            message=message, finished_at=timezone.now(), claim_token="",
        ):
            # Another attempt took over: our products must not linger unreferenced.
            published = [entry["basename"] for entry in output.get("output_files", [])]
            delete_output_files(list(OutputFile.objects.filter(basename__in=published)))
            return "lost-claim"
        return "completed"
    except ClaimLost:
        return _outcome_of_lost_claim(operation_id)
    except OperationError as error:
        _finish(operation_id, token, status=OperationStatus.FAILED, message=str(error),
                finished_at=timezone.now(), claim_token="")
        return "failed"
    except TransientError as error:
        return _retry_later(operation, token, str(error))
    except OverTimeLimit:
        _finish(operation_id, token, status=OperationStatus.FAILED, finished_at=timezone.now(), claim_token="",
                message=f"The operation ran longer than the limit of {settings.OPERATION_TIME_LIMIT_SECONDS} s "
                "and was stopped. Try fewer or smaller input files.")
        return "failed"
    except OSError as error:
        if error.errno != errno.ENOSPC:
            logger.exception("Operation %s raised unexpectedly", operation_id)
            return _retry_later(operation, token, "An internal error interrupted the operation.")
        return _retry_later(operation, token, "The server ran out of disk space while writing the results.")
    except Exception:
        logger.exception("Operation %s raised unexpectedly", operation_id)
        return _retry_later(operation, token, "An internal error interrupted the operation.")
    finally:
        heartbeat.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _outcome_of_lost_claim(operation_id: int) -> str:
    cancelled = DataOperation.objects.filter(
        pk=operation_id, status=OperationStatus.FAILED, message=CANCELLED_MESSAGE
    ).exists()
    return "cancelled" if cancelled else "lost-claim"


def _retry_later(operation: DataOperation, token: str, reason: str) -> str:
    """Back to PENDING after a back-off of 2, 4, ... s, or FAILED once the attempts are spent."""
    if operation.attempts >= settings.OPERATION_MAX_ATTEMPTS:
        _finish(operation.pk, token, status=OperationStatus.FAILED, finished_at=timezone.now(),
                claim_token="", message=f"{reason} Gave up after {operation.attempts} attempts.")
        return "failed"
    backoff_ms = int(1000 * 2 ** operation.attempts)
    if _finish(operation.pk, token, status=OperationStatus.PENDING, claim_token="",
               not_before=timezone.now() + timedelta(milliseconds=backoff_ms),
               message=f"{reason} Retrying shortly (attempt {operation.attempts} of "
               f"{settings.OPERATION_MAX_ATTEMPTS})."):
        enqueue_operation(operation.pk, delay_ms=backoff_ms)
    return "retry"
