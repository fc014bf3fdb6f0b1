"""A full disk while writing results: FAILED with a clear message, nothing partial published."""
from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from archive_fakes import tiny_fits_bytes
from astropy.io import fits

from datalab.datalab_session import runner
from datalab.datalab_session.models import DataOperation, DataSession, OperationStatus, OutputFile
from datalab.local_archive.synthetic import make_frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs: room for a few headers, not for a frame."""
    mount_point = tmp_path / "full-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def frame_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    make_frame(shape=(256, 256), seed=seed, n_stars=20).writeto(buffer)
    return buffer.getvalue()


def new_median(owner, basenames) -> DataOperation:
    session = DataSession.objects.create(user=owner, name="disk")
    return DataOperation.objects.create(
        session=session, user=owner, name="Median", cache_key=f"disk-{basenames[0]}",
        input_data={"input_files": [{"source": "archive", "basename": b} for b in basenames]},
    )


def run_until_terminal(operation: DataOperation) -> DataOperation:
    for _ in range(6):
        runner.execute(operation.pk)
        operation.refresh_from_db()
        if operation.is_terminal:
            break
    return operation


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


@pytest.mark.parametrize("full", ["outputs", "temp"])
def test_full_disk_fails_cleanly_and_the_worker_keeps_serving(owner, fake_archive, tiny_disk, settings, full):
    for seed in (1, 2):
        fake_archive.add_frame(f"frame-{seed}", frame_bytes(seed))
    if full == "outputs":
        settings.STORAGES = {**settings.STORAGES, "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tiny_disk)}}}
    else:
        settings.OPERATION_TEMP_DIR = tiny_disk

    operation = run_until_terminal(new_median(owner, ["frame-1", "frame-2"]))
    assert operation.status == OperationStatus.FAILED
    assert operation.message.startswith("The server ran out of disk space while writing the results.")
    assert operation.attempts == settings.OPERATION_MAX_ATTEMPTS
    assert not OutputFile.objects.exists()
    assert files_under(tiny_disk) == [], "nothing partial may stay on the full disk"

    # Space comes back: the same worker code serves the next operation normally.
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(settings.MEDIA_ROOT)}}}
    settings.OPERATION_TEMP_DIR = settings.MEDIA_ROOT.parent / "op_tmp"
    fake_archive.add_frame("frame-3", tiny_fits_bytes(seed=3))
    fake_archive.add_frame("frame-4", tiny_fits_bytes(seed=4))
    recovered = run_until_terminal(new_median(owner, ["frame-3", "frame-4"]))
    assert recovered.status == OperationStatus.COMPLETED
    record = OutputFile.objects.get()
    assert fits.getdata(settings.MEDIA_ROOT / record.fits_name, "SCI").shape == (48, 64)
