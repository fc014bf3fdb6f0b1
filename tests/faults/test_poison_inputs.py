"""Poison inputs and a misbehaving archive: a clear FAILED message, bounded retries, a clean cache."""
from __future__ import annotations

import io

import numpy as np
import pytest
from archive_fakes import Corrupt, Hang, Reply, Truncate, tiny_fits_bytes
from astropy.io import fits

from datalab.datalab_session import runner
from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus, OutputFile

pytestmark = pytest.mark.django_db


def fits_bytes(hdus: list) -> bytes:
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    return buffer.getvalue()


def median_of(owner, basenames: list[str]) -> DataOperation:
    session = DataSession.objects.create(user=owner, name="poison")
    return DataOperation.objects.create(
        session=session, user=owner, name="Median", cache_key="poison",
        input_data={"input_files": [{"source": "archive", "basename": b} for b in basenames]},
    )


def run_to_the_end(operation: DataOperation, max_runs: int = 5) -> DataOperation:
    """Execute as the queue would: again after every retry, until the operation is terminal."""
    for _ in range(max_runs):
        runner.execute(operation.pk)
        operation.refresh_from_db()
        if operation.is_terminal:
            return operation
    raise AssertionError(f"operation still {operation.status} after {max_runs} runs: {operation.message}")


def cache_is_clean(settings) -> bool:
    cache = settings.FRAME_CACHE_DIR
    leftovers = [p for p in cache.rglob("*") if p.is_file() and p.suffix not in (".lock",) and p.stat().st_size]
    return all(not p.name.startswith(".") and ".tmp" not in p.parts for p in leftovers)


GOOD = "good-frame-0001"


@pytest.fixture
def good_frame(fake_archive):
    fake_archive.add_frame(GOOD, tiny_fits_bytes(seed=5))
    return GOOD


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (fits_bytes([fits.PrimaryHDU(), fits.ImageHDU(np.ones(16, np.float32), name="XYZ")]),
         "Frame bad-frame has no 2-D image data."),
        (b"<!DOCTYPE html><html><body>Sign in to the archive</body></html>",
         "The archive returned something that is not a FITS file for frame bad-frame."),
        (tiny_fits_bytes(seed=2)[:11520], "Frame bad-frame is not a readable FITS file (truncated or corrupt)."),
    ],
    ids=["no-2d-image", "html-page", "truncated-file"],
)
def test_poison_frame_fails_once_with_a_clear_message(owner, fake_archive, good_frame, settings, body, message):
    fake_archive.add_frame("bad-frame", body)
    operation = run_to_the_end(median_of(owner, [good_frame, "bad-frame"]))
    assert operation.status == OperationStatus.FAILED
    assert operation.message == message
    assert operation.attempts == 1, "a permanent error must not be retried"
    assert not OutputFile.objects.exists()
    assert list(settings.OPERATION_TEMP_DIR.iterdir()) == []
    assert cache_is_clean(settings)


def test_nan_only_frame_fails_with_a_clear_message(owner, fake_archive, good_frame):
    nan_frame = fits_bytes([fits.PrimaryHDU(), fits.CompImageHDU(np.full((48, 64), np.nan, np.float32), name="SCI")])
    fake_archive.add_frame("nan-frame", nan_frame)
    operation = run_to_the_end(median_of(owner, [good_frame, "nan-frame"]))
    assert operation.status == OperationStatus.FAILED
    assert operation.message == "Frame nan-frame has no finite pixels (every value is NaN or infinite)."


def test_mismatched_shapes_are_cropped_and_said_so(owner, fake_archive, good_frame):
    smaller = fits_bytes([fits.PrimaryHDU(), fits.ImageHDU(np.ones((40, 50), np.float32), name="SCI")])
    fake_archive.add_frame("small-frame", smaller)
    operation = run_to_the_end(median_of(owner, [good_frame, "small-frame"]))
    assert operation.status == OperationStatus.COMPLETED
    assert operation.message.startswith(
        "The input frames differ in size; the median covers their common region of 50x40 pixels from the origin."
    )


def test_unknown_frame_fails_without_retry(owner, fake_archive, good_frame):
    operation = run_to_the_end(median_of(owner, [good_frame, "no-such-frame"]))
    assert operation.status == OperationStatus.FAILED
    assert operation.message == (
        "The archive could not find frame no-such-frame, or it is not visible with your archive token."
    )
    assert operation.attempts == 1


def test_archive_answering_500_fails_after_bounded_attempts(owner, fake_archive, good_frame, settings):
    fake_archive.script("list", *[Reply(500, b"oops")] * 50)
    operation = run_to_the_end(median_of(owner, [good_frame, good_frame]))
    assert operation.status == OperationStatus.FAILED
    assert operation.message.startswith("The archive is unavailable")
    assert operation.message.endswith(f"Gave up after {settings.OPERATION_MAX_ATTEMPTS} attempts.")
    assert operation.attempts == settings.OPERATION_MAX_ATTEMPTS
    hits = fake_archive.hits["list"]
    assert hits == settings.OPERATION_MAX_ATTEMPTS * (settings.ARCHIVE_MAX_RETRIES + 1)


def test_archive_429_with_retry_after_then_success(owner, fake_archive, good_frame):
    fake_archive.script("list", Reply(429, b"slow down", {"Retry-After": "0"}))
    operation = run_to_the_end(median_of(owner, [good_frame, good_frame]))
    assert operation.status == OperationStatus.COMPLETED
    assert operation.attempts == 1


def test_archive_that_hangs_is_abandoned(owner, fake_archive, good_frame, settings):
    fake_archive.script("list", *[Hang(2.0)] * 20)
    operation = run_to_the_end(median_of(owner, [good_frame, good_frame]))
    assert operation.status == OperationStatus.FAILED
    assert operation.message.startswith("The archive is unavailable")


@pytest.mark.parametrize("fault", [Truncate, Corrupt], ids=["truncated-body", "md5-mismatch"])
def test_damaged_download_never_enters_the_cache(owner, fake_archive, good_frame, settings, fault):
    fake_archive.script("download", *[fault()] * 20)
    operation = run_to_the_end(median_of(owner, [good_frame, good_frame]))
    assert operation.status == OperationStatus.FAILED
    assert operation.message.startswith("The archive is unavailable")
    assert cache_is_clean(settings)
    cached = [p for p in settings.FRAME_CACHE_DIR.glob("*") if p.is_file()]
    assert cached == []


def test_damaged_download_is_retried_then_succeeds(owner, fake_archive, good_frame, settings):
    fake_archive.script("download", Corrupt())
    operation = run_to_the_end(median_of(owner, [good_frame, good_frame]))
    assert operation.status == OperationStatus.COMPLETED
    assert fake_archive.hits["download"] == 2
