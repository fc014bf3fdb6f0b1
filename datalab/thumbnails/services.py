"""Thumbnails by basename, as the front end's ``thumbnailServiceUrl`` is asked for them.

A basename is one of the user's own outputs when it has the outputs' prefix (another user's is
not found, exactly like a name nobody has), else an archive frame (seen only through the user's
archive rights, checked with the archive on every request). The JPEG is
made once per frame version and size (in the analysis cache), copied to output storage and handed
out as a signed URL that works without the token, like every other image URL of the service.
"""
from __future__ import annotations

from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.exceptions import NotFound

from data_operations.errors import InputValidationError
from datalab.analysis.frames import resolve_frame
from datalab.datalab_session import selectors
from datalab.datalab_session.outputs import OUTPUT_BASENAME_PREFIX, output_urls, public_url, sign_output

MAX_SIDE = 2048
DEFAULT_SIDE = 200
SMALL_PREVIEW_SIDE = 256  # what an output's stored small JPEG is made at
SIGNATURE_KIND = "thumbnail"  # not an output kind, so output URLs cannot be forged from it


def requested_side(params, name: str) -> int:
    """``width``/``height`` as a whole number of pixels in 1..MAX_SIDE (default DEFAULT_SIDE)."""
    raw = params.get(name, "")
    if raw in ("", None):
        return DEFAULT_SIDE
    try:
        value = int(str(raw))
    except ValueError:
        raise InputValidationError(f"{name} must be a whole number of pixels.") from None
    if not 1 <= value <= MAX_SIDE:
        raise InputValidationError(f"{name} must be between 1 and {MAX_SIDE} pixels.")
    return value


def storage_name(basename: str, name: str) -> str:
    return f"thumbnail-files/{basename}/{name}.jpg"


def signed_url(basename: str, name: str) -> str:
    """A URL of a stored thumbnail that works without the token, the same on every call for a while."""
    path = reverse("thumbnail-file", kwargs={"basename": basename, "id": name})
    return public_url(f"{path}?sig={sign_output(f'{basename}/{name}', SIGNATURE_KIND)}")


def thumbnail_url(*, user, basename: str, width: int, height: int) -> str:
    """The signed URL of a JPEG of ``basename`` fitting in ``width`` x ``height``."""
    is_output = basename.startswith(OUTPUT_BASENAME_PREFIX)
    record = selectors.output_file_for(user=user, basename=basename) if is_output else None
    if is_output and record is None:
        raise NotFound(f"Datalab output {basename} was not found.")
    if record is not None and not record.fits_name:
        # An image-only output (a colour composite): its stored previews are the thumbnails.
        urls = output_urls(record)
        key = "small_url" if max(width, height) <= SMALL_PREVIEW_SIDE else "large_url"
        if key not in urls:
            raise NotFound(f"No thumbnail can be made for {basename}.")
        return urls[key]
    frame, _ = resolve_frame(user=user, basename=basename, source="datalab" if record else "archive")
    name = f"{frame.key}-{width}x{height}"
    stored = storage_name(basename, name)
    if not default_storage.exists(stored):
        with open(frame.thumbnail(width, height), "rb") as handle:
            default_storage.save(stored, handle)
    return signed_url(basename, name)
