"""JSON request bodies that cannot crash the server: too-deep nesting is a 400, not a RecursionError."""
from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than any real request body (an operation's inputs are three levels deep); shallow enough
# that echoing a body back (rendering, validation) never comes near Python's recursion limit.
MAX_JSON_DEPTH = 32
TOO_DEEP = f"The request body is nested too deeply (more than {MAX_JSON_DEPTH} levels)."


class NestingTooDeep(ParseError):
    default_detail = TOO_DEEP


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when lists/objects nest deeper than ``limit`` (walked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than MAX_JSON_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise NestingTooDeep() from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise NestingTooDeep()
        return data
