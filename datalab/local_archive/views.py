"""The frames API of the local archive (docs/archive-api.md), as plain JSON function views.

Visibility is decided once per request from the ``Authorization: Token <t>`` header: public frames
for everyone, proprietary frames only for members of their proposal. An invisible frame is absent
(404, missing from lists), never 403, so "not found" reads as "not found or not yours".
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, time, timezone
from functools import wraps
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from datalab.local_archive.access import frames_visible_to
from datalab.local_archive.indexing import archive_root, ensure_thumbnails, thumbnail_path
from datalab.local_archive.models import CALIBRATION_TYPES, ArchiveFrame, ArchiveFrameQuerySet

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SIGNATURE_SALT = "datalab.local_archive.frame-url"
THUMBNAIL_SIZES = ("small", "large")
PUBLIC_PROPOSAL = "public"
ORDERINGS = {"observation_date", "-observation_date", "id", "-id", "basename", "-basename"}
_POINT = re.compile(r"^\s*POINT\s*\(\s*([-+0-9.eE]+)[\s,]+([-+0-9.eE]+)\s*\)\s*$", re.IGNORECASE)
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class BadRequest(Exception):
    """A query parameter the API cannot use; its text is the 400 response's error."""


# --- responses ----------------------------------------------------------------------------------
def json_response(payload: dict[str, Any], status: int = 200) -> HttpResponse:
    body = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Content-Length"] = str(len(body))
    return response


def error_response(message: str, status: int) -> HttpResponse:
    return json_response({"error": message}, status=status)


def not_found() -> HttpResponse:
    return error_response("Not found.", 404)


def archive_get(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET (and HEAD) only, no CSRF (no cookies are used), and BadRequest becomes a JSON 400."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = error_response("Method not allowed.", 405)
            response["Allow"] = "GET, HEAD"
            return response
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return error_response(str(error), 400)

    return wrapper


# --- who is asking ------------------------------------------------------------------------------
def request_token(request: HttpRequest) -> str | None:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "token" and credential else None


def visible_frames(request: HttpRequest) -> ArchiveFrameQuerySet:
    return frames_visible_to(request_token(request))


# --- signed URLs --------------------------------------------------------------------------------
def url_ttl_seconds() -> int:
    return int(getattr(settings, "LOCAL_ARCHIVE_URL_TTL_SECONDS", 3600))


def sign_frame(frame: ArchiveFrame) -> str:
    """A signature for this frame's current version; expires after ``url_ttl_seconds``."""
    return signing.TimestampSigner(salt=SIGNATURE_SALT).sign(f"{frame.id}:{frame.md5}")


def signed_frame_id(signature: str) -> tuple[int, str]:
    """(frame id, md5) from a valid, unexpired signature; raises signing.BadSignature otherwise."""
    value = signing.TimestampSigner(salt=SIGNATURE_SALT).unsign(signature, max_age=url_ttl_seconds())
    frame_id, _, md5 = value.partition(":")
    return int(frame_id), md5


def has_valid_signature(request: HttpRequest, frame: ArchiveFrame) -> bool:
    try:
        return signed_frame_id(request.GET.get("sig", "")) == (frame.id, frame.md5)
    except (signing.BadSignature, ValueError):
        return False


def absolute_url(request: HttpRequest, path: str) -> str:
    base = getattr(settings, "PUBLIC_BASE_URL", "")
    return f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)


# --- frame records ------------------------------------------------------------------------------
def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def frame_record(request: HttpRequest, frame: ArchiveFrame, *, thumbnails: bool = False) -> dict[str, Any]:
    """A frame as the archive's list and detail endpoints describe it."""
    signature = sign_frame(frame)
    download_url = absolute_url(
        request, f"{reverse('local_archive:frame-download', args=[frame.id])}?sig={signature}"
    )
    record = {
        "id": frame.id,
        "basename": frame.basename,
        "filename": frame.filename,
        "url": download_url,
        "version_set": [{
            "id": frame.id,
            "created": _iso(frame.version_created),
            "key": frame.md5,
            "md5": frame.md5,
            "extension": frame.filename[len(frame.basename):] or ".fits",
            "url": download_url,
        }],
        "observation_date": _iso(frame.observation_date),
        "observation_day": frame.observation_day.isoformat() if frame.observation_day else None,
        "primary_optical_element": frame.primary_optical_element,
        "target_name": frame.target_name,
        "site_id": frame.site_id,
        "telescope_id": frame.telescope_id,
        "instrument_id": frame.instrument_id,
        "proposal_id": frame.proposal_id,
        "public_date": _iso(frame.public_date),
        "reduction_level": frame.reduction_level,
        "exposure_time": frame.exposure_time,
        "configuration_type": frame.configuration_type,
        "request_id": frame.request_id,
        "observation_id": frame.request_id,
        "area": frame.area,
    }
    if thumbnails:
        record["thumbnails"] = [
            {"size": size, "url": absolute_url(
                request, f"{reverse('local_archive:frame-thumbnail', args=[frame.id, size])}?sig={signature}"
            )}
            for size in THUMBNAIL_SIZES
        ]
    return record


# --- query parameters ---------------------------------------------------------------------------
def _boolean(params: dict[str, str], name: str) -> bool | None:
    value = params.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise BadRequest(f"{name} must be true or false.")


def _integer(params: dict[str, str], name: str, *, minimum: int | None = None) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer.") from None
    if minimum is not None and number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}.")
    return number


def _moment(params: dict[str, str], name: str, *, end_of_day: bool) -> datetime | None:
    """An ISO date or datetime; a bare ``end`` date includes that whole day."""
    value = params.get(name, "").strip()
    if not value:
        return None
    moment = day = None
    try:
        if "T" in value:  # "+" of a UTC offset arrives as a space when not URL-encoded
            moment = parse_datetime(value.replace(" ", "+"))
        else:
            day = parse_date(value)
    except ValueError:
        pass
    if moment is None and day is None:
        raise BadRequest(f"{name} must be an ISO date or date-time, e.g. 2026-11-01.")
    if moment is None:
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _point(params: dict[str, str], name: str) -> tuple[float, float] | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    match = _POINT.match(value)
    try:
        ra, dec = (float(match.group(1)), float(match.group(2))) if match else (None, None)
    except ValueError:
        ra = dec = None
    if ra is None or dec is None or not -90.0 <= dec <= 90.0:
        raise BadRequest(f"{name} must look like POINT(<ra> <dec>) in degrees.")
    return ra % 360.0, dec


def filter_frames(frames: ArchiveFrameQuerySet, params: dict[str, str]) -> ArchiveFrameQuerySet:
    """Apply the list filters of docs/archive-api.md; unknown parameters are ignored."""
    exact_fields = {
        "basename_exact": "basename", "proposal_id": "proposal_id", "site_id": "site_id",
        "telescope_id": "telescope_id", "instrument_id": "instrument_id",
        "configuration_type": "configuration_type",
        "primary_optical_element": "primary_optical_element__iexact",
    }
    if params.get("proposal_id") == PUBLIC_PROPOSAL:
        # The front end lists public frames as a pseudo-proposal "public" (its "Public Images").
        params = {key: value for key, value in params.items() if key != "proposal_id"}
        frames = frames.public()
    for name, lookup in exact_fields.items():
        if params.get(name):
            frames = frames.filter(**{lookup: params[name]})
    for name in ("basename", "target_name"):
        if params.get(name):
            frames = frames.filter(**{f"{name}__icontains": params[name]})
    search = params.get("search", "")
    if search:
        frames = frames.filter(Q(basename__icontains=search) | Q(target_name__icontains=search))
    public = _boolean(params, "public")
    if public is not None:
        frames = frames.public() if public else frames.proprietary()
    if _boolean(params, "exclude_calibrations"):
        frames = frames.exclude(configuration_type__in=CALIBRATION_TYPES)
    reduction_level = _integer(params, "reduction_level")
    if reduction_level is not None:
        frames = frames.filter(reduction_level=reduction_level)
    for name in ("observation_id", "request_id"):
        request_id = _integer(params, name)
        if request_id is not None:
            frames = frames.filter(request_id=request_id)
    start = _moment(params, "start", end_of_day=False)
    if start:
        frames = frames.filter(observation_date__gte=start)
    end = _moment(params, "end", end_of_day=True)
    if end:
        frames = frames.filter(observation_date__lte=end)
    point = _point(params, "covers")
    if point:
        frames = frames.covering(ra=point[0], dec=point[1])
    ordering = params.get("ordering", "")
    if ordering:
        if ordering not in ORDERINGS:
            raise BadRequest(f"ordering must be one of {', '.join(sorted(ORDERINGS))}.")
        frames = frames.order_by(ordering, "-id")
    return frames


def _page_url(request: HttpRequest, *, offset: int, limit: int) -> str:
    query = request.GET.copy()
    query["offset"], query["limit"] = str(offset), str(limit)
    return absolute_url(request, f"{request.path}?{query.urlencode()}")


# --- views --------------------------------------------------------------------------------------
@csrf_exempt
def unknown_path(request: HttpRequest) -> HttpResponse:
    """A path the archive does not serve: JSON, never Django's HTML (debug) page."""
    return not_found()


@archive_get
def frame_list(request: HttpRequest) -> HttpResponse:
    params = request.GET.dict()
    limit = min(_integer(params, "limit", minimum=1) or DEFAULT_LIMIT, MAX_LIMIT)
    offset = _integer(params, "offset", minimum=0) or 0
    frames = filter_frames(visible_frames(request), params).defer("headers")
    count = frames.count()
    include_thumbnails = bool(_boolean(params, "include_thumbnails"))
    results = [frame_record(request, frame, thumbnails=include_thumbnails)
               for frame in frames[offset:offset + limit]]
    return json_response({
        "count": count,
        "next": _page_url(request, offset=offset + limit, limit=limit) if offset + limit < count else None,
        "previous": _page_url(request, offset=max(offset - limit, 0), limit=limit) if offset > 0 else None,
        "results": results,
    })


@archive_get
def frame_detail(request: HttpRequest, frame_id: int) -> HttpResponse:
    frame = visible_frames(request).defer("headers").filter(id=frame_id).first()
    if frame is None:
        return not_found()
    include_thumbnails = bool(_boolean(request.GET.dict(), "include_thumbnails"))
    return json_response(frame_record(request, frame, thumbnails=include_thumbnails))


@archive_get
def frame_headers(request: HttpRequest, frame_id: int) -> HttpResponse:
    headers = visible_frames(request).filter(id=frame_id).values_list("headers", flat=True).first()
    if headers is None:
        return not_found()
    return json_response({"data": headers})


@archive_get
def frame_download(request: HttpRequest, frame_id: int) -> HttpResponse:
    """The file itself, for holders of a signed URL (issued only to those who can see the frame)."""
    try:
        signed_id, signed_md5 = signed_frame_id(request.GET.get("sig", ""))
    except signing.SignatureExpired:
        return error_response("This download link has expired; list the frame again for a fresh one.", 403)
    except (signing.BadSignature, ValueError):
        return error_response("This download link is invalid.", 403)
    if signed_id != frame_id:
        return error_response("This download link is invalid.", 403)
    frame = ArchiveFrame.objects.filter(id=frame_id, md5=signed_md5).first()
    path = archive_root() / frame.path if frame else None
    if path is None or not path.is_file():
        return not_found()
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=frame.filename,
                            content_type="application/fits")
    return response


@archive_get
def frame_thumbnail(request: HttpRequest, frame_id: int, size: str) -> HttpResponse:
    """A JPEG preview, for those who can see the frame or hold its signed URL (an <img> tag)."""
    if size not in THUMBNAIL_SIZES:
        return not_found()
    frame = ArchiveFrame.objects.defer("headers").filter(id=frame_id).first()
    if frame is None:
        return not_found()
    if not has_valid_signature(request, frame) and not visible_frames(request).filter(id=frame_id).exists():
        return not_found()
    try:
        ensure_thumbnails(frame)
    except (OSError, ValueError):
        return error_response("No thumbnail can be made for this frame.", 404)
    return FileResponse(open(thumbnail_path(frame, size), "rb"), content_type="image/jpeg")
