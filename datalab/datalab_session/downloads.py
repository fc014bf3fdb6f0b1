"""Data tables an operation offers for download (a light curve as ECSV, say), behind signed URLs.

A table is stored like any product (an ``OutputFile`` whose ``data_name`` holds it), so it is
served, signed and deleted with the operation's other files. The stored output keeps its
basename at ``output_data[i]["downloads"][key]``; every response replaces it with a fresh signed
URL, so a link never outlives its signature in storage.
"""
from __future__ import annotations

import secrets
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage

from data_operations.context import DataFile
from datalab.datalab_session.models import DataOperation, OutputFile
from datalab.datalab_session.outputs import PUBLISHED_SECTIONS, output_urls

DOWNLOADS_KEY = PUBLISHED_SECTIONS[0]


def publish_downloads(operation: DataOperation, data_files: list[DataFile], output_data: list[dict]) -> None:
    """Store each data file and record its basename in the output entry it belongs to."""
    for data_file in data_files:
        if not 0 <= data_file.entry < len(output_data):
            continue
        slug = operation.name.lower().replace(" ", "-")
        basename = f"datalab-{slug}-{operation.pk}-{data_file.key}-{secrets.token_hex(4)}"
        name = f"outputs/{operation.user_id}/{basename}/{basename}{data_file.path.suffix}"
        with open(data_file.path, "rb") as handle:
            stored = default_storage.save(name, File(handle, name=name))
        try:
            OutputFile.objects.create(operation=operation, user=operation.user, basename=basename, data_name=stored)
        except BaseException:
            default_storage.delete(stored)
            raise
        output_data[data_file.entry].setdefault(DOWNLOADS_KEY, {})[data_file.key] = basename


def with_download_urls(output: dict | None, *, records: dict[str, OutputFile | None] | None = None) -> dict | None:
    """``output`` with each download basename replaced by a fresh signed URL (dropped if the file is gone)."""
    if not output or not any(isinstance(e, dict) and e.get(DOWNLOADS_KEY) for e in output.get("output_data") or []):
        return output
    entries: list[Any] = []
    for entry in output["output_data"]:
        downloads = entry.get(DOWNLOADS_KEY) if isinstance(entry, dict) else None
        if not isinstance(downloads, dict):
            entries.append(entry)
            continue
        known = records if records is not None and all(name in records for name in downloads.values()) else {
            record.basename: record for record in OutputFile.objects.filter(basename__in=downloads.values())}
        urls = {key: output_urls(known[basename]).get("data_url")
                for key, basename in downloads.items() if known.get(basename) is not None}
        entries.append({**entry, DOWNLOADS_KEY: {key: url for key, url in urls.items() if url}})
    return {**output, "output_data": entries}
