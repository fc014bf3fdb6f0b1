"""JSON errors for API clients in every mode: Django's debug pages never reach /api/, /archive/ or /outputs/.

With DEBUG on, Django answers an unknown URL or an unhandled exception with an HTML page that
lists settings and the environment. Under the API prefixes any error response that is not JSON is
replaced by ``{"error": "<sentence>"}`` with the same status; the failure is still logged by Django.
"""
from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIXES = ("/api/", "/archive/", "/outputs/")
MESSAGES = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found.",
    405: "Method not allowed.",
    500: "Internal server error; the failure has been logged.",
}


def error_sentence(status: int) -> str:
    if status in MESSAGES:
        return MESSAGES[status]
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return "The request failed."


class JsonApiErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not request.path.startswith(API_PREFIXES):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = JsonResponse({"error": error_sentence(response.status_code)}, status=response.status_code)
        for header, value in response.headers.items():  # CORS, Allow, Retry-After, ... stay
            if header.lower() not in ("content-type", "content-length", "content-disposition"):
                replacement[header] = value
        return replacement
