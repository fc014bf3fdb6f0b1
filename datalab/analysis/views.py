"""Where analysis requests enter. The view stays thin: services.run_action does the work."""
from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from datalab.analysis import services
from datalab.analysis.actions import TIF_SIGNATURE_KIND, tif_storage_name
from datalab.datalab_session.outputs import stored_file_response, verify_output_signature

ANALYSIS_BODY = {
    "type": "object",
    "properties": {
        "basename": {"type": "string"},
        "source": {"type": "string", "enum": ["archive", "datalab"]},
    },
    "required": ["basename"],
    "additionalProperties": True,
}


@extend_schema(request={"application/json": ANALYSIS_BODY}, responses={(200, "application/json"): OpenApiTypes.OBJECT})
@api_view(["POST"])
def analysis_view(request: Request, action: str):
    """``POST /api/analysis/<action>/`` with the body the API contract lists for that action."""
    answer = services.run_action(user=request.user, action=action, data=request.data, request=request)
    if isinstance(answer, bytes):  # already encoded (and cached) JSON: send it as it is
        response = HttpResponse(answer, content_type="application/json")
        response["Content-Length"] = str(len(answer))
        return response
    return Response(answer)


@api_view(["GET", "HEAD"])
@permission_classes([AllowAny])
def tif_file_view(request: Request, id: str):
    """Serve a frame's TIFF (``id`` is the frame's product key) to anyone holding a valid signed URL."""
    key = id
    signature = request.query_params.get("sig", "")
    name = tif_storage_name(key)
    if not verify_output_signature(key, TIF_SIGNATURE_KIND, signature) or not default_storage.exists(name):
        raise Http404
    return stored_file_response(name, content_type="image/tiff", download_name=f"{key}.tif")
