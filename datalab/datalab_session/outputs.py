"""Publishing operation products to storage and handing out signed, expiring URLs for them.

The browser fetches output images without the API token, so each URL carries its own
signature. Outputs live in Django's default storage: local files by default, S3 by setting
(then the storage's own presigned URLs are used).
"""
from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from data_operations.context import OutputFile as ProducedFile
from datalab.datalab_session.models import DataOperation, OutputFile

logger = logging.getLogger(__name__)

URL_KINDS = {"fits": "fits_name", "large": "large_name", "small": "small_name", "tif": "tif_name", "data": "data_name"}
URL_FIELDS = {"fits": "fits_url", "large": "large_url", "small": "small_url", "tif": "tif_url", "data": "data_url"}
#: Sections of an ``output_data`` entry whose values are basenames of published files (see downloads.py).
PUBLISHED_SECTIONS = ("downloads", "diagnostic_images")
_SIGNER_SALT = "datalab.outputs"
OUTPUT_BASENAME_PREFIX = "datalab-"  # never the start of an archive frame's basename


def new_output_basename(operation: DataOperation, index: int) -> str:
    """Unique across the service: the browser caches by basename and sends it back as input."""
    slug = operation.name.lower().replace(" ", "-")
    return f"{OUTPUT_BASENAME_PREFIX}{slug}-{operation.pk}-{index}-{secrets.token_hex(4)}"


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
    """Delete outputs: the row first, so their signed links answer 404 at once, then the stored files."""
    for record in records:
        names = [getattr(record, field) for field in URL_KINDS.values() if getattr(record, field)]
        record.delete()
        for name in names:
            try:
                default_storage.delete(name)
            except Exception:  # noqa: BLE001 - the row is gone, so nothing links to the file any more
                logger.warning("Could not delete stored output file %s", name, exc_info=True)


def release_outputs(*, user_id: int, cache_key: str, basenames: list[str]) -> int:
    """Delete the outputs a deleted operation listed, unless another operation still lists them.

    Only an identical operation of the same user (same cache key) reuses a result and so shares
    its files; any of those still present keeps them. Returns how many outputs were deleted.
    """
    if not basenames:
        return 0
    identical = DataOperation.objects.filter(user_id=user_id, cache_key=cache_key)
    still_listed = {basename for output in identical.values_list("output", flat=True)
                    for basename in output_basenames(output)}
    unreferenced = list(OutputFile.objects.filter(user_id=user_id, basename__in=set(basenames) - still_listed))
    delete_output_files(unreferenced)
    return len(unreferenced)


def _expiry_on_grid(now: float) -> int:
    """The first multiple of OUTPUT_URL_WINDOW_SECONDS at least OUTPUT_URL_TTL_SECONDS away.

    Every URL signed within one window carries the same expiry, hence the same signature: the
    same output gets byte-identical URLs on every GET for a window, and each lives at least the TTL.
    """
    window = max(1, settings.OUTPUT_URL_WINDOW_SECONDS)
    return int(-(-(now + settings.OUTPUT_URL_TTL_SECONDS) // window) * window)


def sign_output(basename: str, kind: str, *, now: float | None = None) -> str:
    """``<expiry>:<signature>`` for one product; the URL carries it as ``sig``."""
    expires = _expiry_on_grid(time.time() if now is None else now)
    signature = signing.Signer(salt=_SIGNER_SALT).signature(f"{basename}:{kind}:{expires}")
    return f"{expires}:{signature}"


def verify_output_signature(basename: str, kind: str, signature: str) -> bool:
    """True when ``signature`` was made by :func:`sign_output` for this product and has not expired."""
    expires, _, digest = signature.partition(":")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    expected = signing.Signer(salt=_SIGNER_SALT).signature(f"{basename}:{kind}:{expires}")
    return constant_time_compare(digest, expected)


def stored_file_response(name: str, *, content_type: str, download_name: str | None = None) -> HttpResponseBase:
    """The stored file ``name``: streamed from local storage, or a redirect to a short-lived presigned URL.

    Callers check the signature and that the file exists; a HEAD gets the same headers and no body.
    """
    if settings.OUTPUT_STORAGE != "local":
        return HttpResponseRedirect(default_storage.url(name))
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


def public_url(path: str) -> str:
    """An absolute URL on the configured public base, never on the Host a client happened to send."""
    return (settings.PUBLIC_BASE_URL or settings.DEFAULT_PUBLIC_BASE_URL).rstrip("/") + path


def output_urls(record: OutputFile) -> dict[str, str]:
    """Signed URLs for every stored product of an output, the same for a whole URL window.

    They point at this service in every storage: on S3 the service answers with a redirect to a
    short-lived presigned URL, so the link is stable between GETs and dies with the output.
    """
    urls: dict[str, str] = {}
    for kind, field in URL_KINDS.items():
        if not getattr(record, field):
            continue
        path = reverse("output-file", kwargs={"basename": record.basename, "kind": kind})
        urls[URL_FIELDS[kind]] = public_url(f"{path}?sig={sign_output(record.basename, kind)}")
    return urls


def output_basenames(output: dict | None) -> list[str]:
    """Basenames of the files an operation's ``output`` lists."""
    files = (output or {}).get("output_files") if isinstance(output, dict) else None
    entries = (output or {}).get("output_data") if isinstance(output, dict) else None
    published = [name for entry in entries or [] if isinstance(entry, dict) for section in PUBLISHED_SECTIONS
                 if isinstance(entry.get(section), dict) for name in entry[section].values() if isinstance(name, str)]
    return [entry["basename"] for entry in files or [] if isinstance(entry, dict) and entry.get("basename")] + published


def outputs_intact(output: dict | None) -> bool:
    """True when every product an output lists is still recorded and its files are in storage.

    A result is lent to an identical request only then: storage lost or wiped under the database
    (a restored backup, a fresh data directory) must mean recomputing, not links that answer 404.
    """
    basenames = output_basenames(output)
    records = {record.basename: record for record in OutputFile.objects.filter(basename__in=basenames)}
    if len(records) != len(set(basenames)):
        return False
    names = [name for record in records.values()
             for name in (getattr(record, field) for field in URL_KINDS.values()) if name]
    return all(default_storage.exists(name) for name in names)


def with_urls(output: dict | None, *, records: dict[str, OutputFile | None] | None = None) -> dict | None:
    """The stored ``output`` with signed URLs added to each file entry.

    ``records`` (basename -> OutputFile) lets a caller load the records of many operations in one query.
    """
    if not output:
        return output
    files = output.get("output_files")
    if not files:
        return output
    if records is None:
        records = {record.basename: record
                   for record in OutputFile.objects.filter(basename__in=output_basenames(output))}
    rendered = []
    for entry in files:
        record = records.get(entry.get("basename"))
        rendered.append({**entry, **(output_urls(record) if record else {})})
    return {**output, "output_files": rendered}
