"""Running one analysis action for a user: validate, resolve the frame with their rights, compute."""
from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from data_operations.errors import OperationError
from datalab.analysis.actions import ACTIONS, ActionRequest
from datalab.analysis.frames import resolve_frame
from datalab.analysis.validation import RequestBody


def unknown_action_message(action: str) -> str:
    return f"Unknown analysis action '{action}'. Available: {', '.join(sorted(ACTIONS))}."


def run_action(*, user, action: str, data: Any, request: Request) -> Any:
    """The action's answer (a JSON-ready object, or already encoded JSON bytes).

    Raises ValidationError (400) for an unknown action, a bad body or a frame that cannot be
    analysed, NotFound (404) for a frame the user may not see, ServiceUnavailable (503) when the
    archive is down.
    """
    handler = ACTIONS.get(action)
    if handler is None:
        raise ValidationError(unknown_action_message(action))
    try:
        body = RequestBody(action, data)
        basename, source = body.basename(), body.source()
        frame, output = resolve_frame(user=user, basename=basename, source=source)
        return handler(ActionRequest(body=body, frame=frame, output=output, request=request))
    except OperationError as error:  # bad input, or a file that cannot be read: the user's sentence
        raise ValidationError(str(error)) from error
