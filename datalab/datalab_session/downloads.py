"""Files an operation offers with its output data (a light curve as ECSV, diagnostic JPEGs), behind signed URLs.

A file is stored like any product (an ``OutputFile`` whose ``data_name`` holds it), so it is
served, signed, released and deleted with the operation's other files. The stored output keeps
its basename at ``output_data[i][section][key]`` (``PUBLISHED_SECTIONS``: ``downloads`` or
``diagnostic_images``); every response replaces it with a signed URL.
"""
from __future__ import annotations

import secrets
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage

from data_operations.context import DataFile
from datalab.datalab_session.models import DataOperation, OutputFile
from datalab.datalab_session.outputs import PUBLISHED_SECTIONS, output_urls


def publish_downloads(operation: DataOperation, data_files: list[DataFile], output_data: list[dict]) -> None:
    """Store each data file and record its basename in the output entry it belongs to."""
    for data_file in data_files:
        if not 0 <= data_file.entry < len(output_data) or data_file.section not in PUBLISHED_SECTIONS:
            continue
        slug = operation.name.lower().replace(" ", "-")
        basename = f"datalab-{slug}-{operation.pk}-{data_file.section}-{secrets.token_hex(6)}"
        name = f"outputs/{operation.user_id}/{basename}/{basename}{data_file.path.suffix}"
        with open(data_file.path, "rb") as handle:
            stored = default_storage.save(name, File(handle, name=name))
        try:
            OutputFile.objects.create(operation=operation, user=operation.user, basename=basename, data_name=stored)
        except BaseException:
            default_storage.delete(stored)
            raise
        output_data[data_file.entry].setdefault(data_file.section, {})[data_file.key] = basename


def with_download_urls(output: dict | None, *, records: dict[str, OutputFile | None] | None = None) -> dict | None:
    """``output`` with each published file's basename replaced by a signed URL (dropped if it is gone).

    ``records`` (basename -> OutputFile), when it holds them all, saves the query.
    """
    entries = (output or {}).get("output_data") or []
    if not any(isinstance(entry, dict) and any(entry.get(section) for section in PUBLISHED_SECTIONS)
               for entry in entries):
        return output
    rendered: list[Any] = []
    for entry in entries:
        if not isinstance(entry, dict):
            rendered.append(entry)
            continue
        published = {section: entry[section] for section in PUBLISHED_SECTIONS if isinstance(entry.get(section), dict)}
        names = [name for files in published.values() for name in files.values()]
        known = records if records is not None and all(name in records for name in names) else {
            record.basename: record for record in OutputFile.objects.filter(basename__in=names)}
        for section, files in published.items():
            urls = {key: output_urls(known[name]).get("data_url") for key, name in files.items()
                    if known.get(name) is not None}
            entry = {**entry, section: {key: url for key, url in urls.items() if url}}
        rendered.append(entry)
    return {**output, "output_data": rendered}
