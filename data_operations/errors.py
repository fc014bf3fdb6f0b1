"""Errors an operation raises; their text is shown to the user, so write it as an actionable sentence."""


class OperationError(Exception):
    """A permanent failure caused by the inputs (bad file, missing extension, ...): never retried."""


class InputValidationError(OperationError):
    """The operation's ``input_data`` does not match its wizard description (a 400 at creation)."""


class TransientError(Exception):
    """A failure worth retrying later (archive unavailable, storage timeout, ...)."""
