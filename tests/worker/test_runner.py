"""The worker's state machine: claim, complete, fail, retry, sweep — against the real database."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from datalab.datalab_session import runner
from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus, OutputFile

pytestmark = pytest.mark.django_db


def stored_output(user, basename: str, data: np.ndarray | None, tmp_path: Path) -> dict:
    """An earlier output of the user's, usable as an input with source 'datalab'."""
    record = OutputFile.objects.create(user=user, basename=basename)
    if data is not None:
        path = tmp_path / f"{basename}.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data=data, name="SCI")]).writeto(path)
        record.fits_name = default_storage.save(f"outputs/{basename}.fits", ContentFile(path.read_bytes()))
        record.save()
    return {"source": "datalab", "basename": basename, "type": "fits"}


def new_operation(user, input_files: list[dict], **fields) -> DataOperation:
    session = DataSession.objects.create(user=user, name="s")
    return DataOperation.objects.create(
        session=session, user=user, name="Median", input_data={"input_files": input_files},
        cache_key=f"k{DataOperation.objects.count()}", **fields,
    )


def test_median_of_outputs_completes_with_exact_pixels(owner, tmp_path, settings):
    settings.OPERATION_MEMORY_BUDGET_BYTES = 4096  # forces many row bands
    rng = np.random.default_rng(3)
    stack = rng.normal(100, 10, size=(3, 40, 50)).astype(np.float32)
    stack[0, 5, 5] = np.nan
    items = [stored_output(owner, f"datalab-in-{i}", stack[i], tmp_path) for i in range(3)]
    operation = new_operation(owner, items)

    assert runner.execute(operation.pk) == "completed"
    operation.refresh_from_db()
    assert operation.status == OperationStatus.COMPLETED
    assert operation.operation_progress == 1.0
    assert operation.attempts == 1 and operation.claim_token == ""
    entry = operation.output["output_files"][0]
    record = OutputFile.objects.get(basename=entry["basename"])
    with default_storage.open(record.fits_name, "rb") as handle, fits.open(handle) as hdul:
        np.testing.assert_array_equal(hdul["SCI"].data, np.nanmedian(stack, axis=0))
    assert list(settings.OPERATION_TEMP_DIR.iterdir()) == []


def test_missing_input_fails_with_a_clear_message(owner, tmp_path, settings):
    items = [stored_output(owner, "datalab-a", np.ones((4, 4), np.float32), tmp_path),
             {"source": "datalab", "basename": "datalab-gone"}]
    operation = new_operation(owner, items)
    assert runner.execute(operation.pk) == "failed"
    operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert operation.message == "Datalab output datalab-gone no longer exists or has no FITS file."
    assert list(settings.OPERATION_TEMP_DIR.iterdir()) == []


def test_terminal_operation_is_skipped(owner):
    operation = new_operation(owner, [], status=OperationStatus.COMPLETED, output={"output_files": []})
    assert runner.execute(operation.pk) == "skipped"
    operation.refresh_from_db()
    assert operation.attempts == 0


def test_claim_is_exclusive(owner):
    operation = new_operation(owner, [])
    assert runner.claim(operation.pk) is not None
    assert runner.claim(operation.pk) is None


def test_stale_claim_can_be_taken_over(owner, settings):
    operation = new_operation(owner, [])
    runner.claim(operation.pk)
    DataOperation.objects.filter(pk=operation.pk).update(
        heartbeat=timezone.now() - timedelta(seconds=settings.OPERATION_STALE_SECONDS + 5)
    )
    claimed = runner.claim(operation.pk)
    assert claimed is not None
    assert claimed[0].attempts == 2


def test_operation_that_keeps_killing_workers_is_failed(owner, settings):
    operation = new_operation(owner, [], attempts=settings.OPERATION_MAX_ATTEMPTS)
    assert runner.claim(operation.pk) is None
    operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert operation.message.startswith(f"Gave up after {settings.OPERATION_MAX_ATTEMPTS} attempts")


def test_only_the_claim_holder_can_finish(owner):
    operation = new_operation(owner, [])
    _, token = runner.claim(operation.pk)
    assert not runner._finish(operation.pk, "someone-else", status=OperationStatus.COMPLETED)
    assert runner._finish(operation.pk, token, status=OperationStatus.COMPLETED, output={"output_files": []})


def test_operation_too_large_for_the_worker_fails_once_with_the_limit(owner, tmp_path, settings):
    settings.OPERATION_MEMORY_LIMIT_BYTES = 64 * 2**20
    items = [stored_output(owner, f"datalab-big-{i}", np.ones((40, 50), np.float32), tmp_path) for i in range(2)]
    operation = new_operation(owner, items)
    assert runner.execute(operation.pk) == "failed"
    operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert operation.attempts == 1
    assert operation.message.startswith("Median of 2 frame(s) of 50x40 pixels needs about ")
    assert operation.message.endswith("more than the 64 MiB a worker allows one operation. Use smaller frames or "
                                      "ask the operator to raise OPERATION_MEMORY_LIMIT_BYTES.")
    assert not OutputFile.objects.filter(operation=operation).exists()


def test_a_thread_that_finishes_takes_the_next_ready_operation_without_a_message(owner, tmp_path):
    from datalab.datalab_session import worker_middleware
    from datalab.datalab_session.tasks import run_next_operation

    stack = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    items = [stored_output(owner, f"datalab-drain-{i}", stack[i], tmp_path) for i in range(3)]
    first, second, third = (new_operation(owner, items[:count]) for count in (2, 3, 2))

    run_next_operation.fn()  # one message: the thread goes on while operations are ready
    statuses = [op.status for op in DataOperation.objects.filter(pk__in=[first.pk, second.pk, third.pk])
                .order_by("pk")]
    assert statuses == [OperationStatus.COMPLETED] * 3

    fourth, fifth = new_operation(owner, items), new_operation(owner, items[1:])
    worker_middleware._stopping.set()  # a shutting-down worker finishes one and takes no other
    try:
        run_next_operation.fn()
    finally:
        worker_middleware._stopping.clear()
    fourth.refresh_from_db()
    fifth.refresh_from_db()
    assert (fourth.status, fifth.status) == (OperationStatus.COMPLETED, OperationStatus.PENDING)
    run_next_operation.fn()  # the last one's own message, later
    fifth.refresh_from_db()
    assert fifth.status == OperationStatus.COMPLETED
    run_next_operation.fn()  # a message with nothing left to claim ends at once
