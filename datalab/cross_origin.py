"""Let pages that isolate themselves (``Cross-Origin-Embedder-Policy: require-corp``, as the front
end's development server does) embed this service's images and files.

CORS headers cover ``fetch()`` and ``<img crossorigin>``; a plain ``<img>`` under that policy also
needs ``Cross-Origin-Resource-Policy: cross-origin``. Every such URL is either public or signed.
"""
from __future__ import annotations

import re

from django.conf import settings


class CrossOriginResourcePolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.paths = re.compile(settings.CORS_URLS_REGEX)

    def __call__(self, request):
        response = self.get_response(request)
        if self.paths.match(request.path_info) and "Cross-Origin-Resource-Policy" not in response:
            response["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response
