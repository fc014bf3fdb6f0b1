"""Request guards that run before any view reads the body."""
from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse


class RequestBodyLimitMiddleware:
    """Refuse bodies above DATA_UPLOAD_MAX_MEMORY_SIZE with a 413 before they are read.

    DRF parses from the raw stream, so Django's own limit (applied to ``request.body``) does not
    protect the API.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"error": "The Content-Length header is not a number."}, status=400)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return JsonResponse(
                {"error": f"The request body is larger than the limit of {limit} bytes."}, status=413
            )
        return self.get_response(request)


class QueryStringGuardMiddleware:
    """Refuse query parameters with NUL characters (PostgreSQL cannot store or compare them)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return JsonResponse({"error": "Query parameters must not contain NUL characters."}, status=400)
        return self.get_response(request)
