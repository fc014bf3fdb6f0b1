"""``GET /thumbnails/<basename>/?width=&height=`` -> ``{"url": ...}``, and the signed JPEG itself."""
from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import Http404
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from datalab.datalab_session.outputs import stored_file_response, verify_output_signature
from datalab.thumbnails import services


@api_view(["GET"])
def thumbnail_view(request: Request, basename: str) -> Response:
    width = services.requested_side(request.query_params, "width")
    height = services.requested_side(request.query_params, "height")
    url = services.thumbnail_url(user=request.user, basename=basename, width=width, height=height)
    return Response({"url": url})


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def thumbnail_file_view(request: Request, basename: str, id: str):
    """The JPEG, to anyone holding a valid, unexpired signed URL (an <img> or fetch without token).

    ``id`` names one stored JPEG of the frame: its product key and size.
    """
    name = id
    stored = services.storage_name(basename, name)
    signature = request.query_params.get("sig", "")
    if not verify_output_signature(f"{basename}/{name}", services.SIGNATURE_KIND, signature):
        raise Http404
    if not default_storage.exists(stored):
        raise Http404
    return stored_file_response(stored, content_type="image/jpeg")
