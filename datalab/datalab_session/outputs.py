"""Publishing operation products to storage and handing out signed, expiring URLs for them.

The browser fetches output images without the API token, so each URL carries its own
signature. Outputs live in Django's default storage: local files by default, S3 by setting
(then the storage's own presigned URLs are used).
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.urls import reverse

from data_operations.context import OutputFile as ProducedFile
from datalab.datalab_session.models import DataOperation, OutputFile

URL_KINDS = {"fits": "fits_name", "large": "large_name", "small": "small_name", "tif": "tif_name"}
URL_FIELDS = {"fits": "fits_url", "large": "large_url", "small": "small_url", "tif": "tif_url"}
_SIGNER_SALT = "datalab.outputs"


def new_output_basename(operation: DataOperation, index: int) -> str:
    """Unique across the service: the browser caches by basename and sends it back as input."""
    slug = operation.name.lower().replace(" ", "-")
    return f"datalab-{slug}-{operation.pk}-{index}-{secrets.token_hex(4)}"


def _save(local_path: Path, name: str) -> str:
    with open(local_path, "rb") as handle:
        return default_storage.save(name, File(handle, name=name))


def publish_output(*, operation: DataOperation, produced: ProducedFile, index: int) -> dict[str, Any]:
    """Copy one product into storage and return its ``output_files`` entry (without URLs).

    The database row is written last and a failure removes the files already stored, so a
    half-published product is never referenced.
    """
    basename = new_output_basename(operation, index)
    record = OutputFile(operation=operation, user=operation.user, basename=basename)
    folder = f"outputs/{operation.user_id}/{basename}"
    sources = {
        "fits_name": (produced.fits_path, f"{folder}/{basename}.fits"),
        "large_name": (produced.large_jpg_path, f"{folder}/{basename}-large.jpg"),
        "small_name": (produced.small_jpg_path, f"{folder}/{basename}-small.jpg"),
        "tif_name": (produced.tif_path, f"{folder}/{basename}.tif"),
    }
    touched: list[str] = []  # names saved or being saved: a failed save may leave a partial file
    try:
        for field, (local_path, name) in sources.items():
            if local_path is not None:
                touched.append(name)
                touched[-1] = _save(local_path, name)
                setattr(record, field, touched[-1])
        record.save()
    except BaseException:
        for name in touched:
            default_storage.delete(name)
        raise
    entry = {"basename": basename, "source": "datalab", "type": produced.type, "operation": operation.pk}
    entry.update({key: value for key, value in produced.metadata.items() if value is not None})
    return entry


def delete_output_files(records: list[OutputFile]) -> None:
    for record in records:
        for field in URL_KINDS.values():
            name = getattr(record, field)
            if name:
                default_storage.delete(name)
        record.delete()


def sign_output(basename: str, kind: str) -> str:
    """``<timestamp>:<signature>`` for one product; the URL carries it as ``sig``."""
    signed = signing.TimestampSigner(salt=_SIGNER_SALT).sign(f"{basename}:{kind}")
    return ":".join(signed.rsplit(":", 2)[-2:])


def verify_output_signature(basename: str, kind: str, signature: str) -> bool:
    try:
        signing.TimestampSigner(salt=_SIGNER_SALT).unsign(
            f"{basename}:{kind}:{signature}", max_age=settings.OUTPUT_URL_TTL_SECONDS
        )
    except signing.BadSignature:
        return False
    return True


def output_urls(record: OutputFile, *, request=None) -> dict[str, str]:
    """Fresh signed URLs for every stored product of an output."""
    urls: dict[str, str] = {}
    for kind, field in URL_KINDS.items():
        name = getattr(record, field)
        if not name:
            continue
        if settings.OUTPUT_STORAGE != "local":
            urls[URL_FIELDS[kind]] = default_storage.url(name)
            continue
        path = reverse("output-file", kwargs={"basename": record.basename, "kind": kind})
        path = f"{path}?sig={sign_output(record.basename, kind)}"
        if settings.PUBLIC_BASE_URL:
            urls[URL_FIELDS[kind]] = settings.PUBLIC_BASE_URL.rstrip("/") + path
        elif request is not None:
            urls[URL_FIELDS[kind]] = request.build_absolute_uri(path)
        else:
            urls[URL_FIELDS[kind]] = path
    return urls


def with_urls(output: dict | None, *, request=None) -> dict | None:
    """The stored ``output`` with signed URLs added to each file entry."""
    if not output:
        return output
    files = output.get("output_files")
    if not files:
        return output
    records = {
        record.basename: record
        for record in OutputFile.objects.filter(basename__in=[entry.get("basename") for entry in files])
    }
    rendered = []
    for entry in files:
        record = records.get(entry.get("basename"))
        rendered.append({**entry, **(output_urls(record, request=request) if record else {})})
    return {**output, "output_files": rendered}
