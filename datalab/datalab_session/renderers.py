"""JSON rendering that never emits NaN or ±Infinity (the front end's parser rejects them)."""
from __future__ import annotations

import math
from typing import Any

from rest_framework.renderers import JSONRenderer


def finite_json(value: Any) -> Any:
    """Replace non-finite floats with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    return value


class FiniteJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        return super().render(finite_json(data), accepted_media_type, renderer_context)
