"""An operation of a data session: its state, waiting for it with progress, and its outputs."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datalab.client.errors import OperationFailed, WaitTimeout
from datalab.client.progress import ProgressChoice, progress_reporter
from datalab.client.records import Output

if TYPE_CHECKING:
    from datalab.client.api import Datalab

FINISHED = ("COMPLETED", "FAILED")
FIRST_POLL_SECONDS = 0.5
POLL_GROWTH = 1.5


@dataclass
class Operation:
    """One operation as the service last described it; ``refresh()`` or ``wait()`` to update it.

    ``status`` is PENDING, IN_PROGRESS, COMPLETED or FAILED; ``progress`` goes 0..1 and ``message``
    says what is happening (or, when FAILED, why).
    """

    id: int
    session_id: int
    name: str
    status: str
    progress: float
    message: str
    output: dict[str, Any] | None
    input_data: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    _client: Datalab | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any], client: Datalab | None, session_id: int | None = None) -> Operation:
        return cls(id=body["id"], session_id=int(body.get("session") or session_id or 0), name=body.get("name", ""),
                   status=body.get("status", ""), progress=float(body.get("operation_progress") or 0.0),
                   message=body.get("message") or "", output=body.get("output"),
                   input_data=body.get("input_data") or {}, raw=dict(body), _client=client)

    # --- state ----------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return f"datasessions/{self.session_id}/operations/{self.id}/"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def outputs(self) -> list[Output]:
        """The output files (empty until the operation has produced some)."""
        entries = (self.output or {}).get("output_files") or []
        transport = self._client.transport if self._client else None
        return [Output.from_entry(entry, self.id, transport) for entry in entries]

    @property
    def output_data(self) -> list[Any]:
        """Non-image results (tables, numbers), as the operation returned them."""
        return list((self.output or {}).get("output_data") or [])

    def _update(self, body: dict[str, Any]) -> Operation:
        fresh = Operation.from_json(body, self._client, self.session_id)
        for name in ("name", "status", "progress", "message", "output", "input_data", "raw"):
            setattr(self, name, getattr(fresh, name))
        return self

    def _api(self) -> Datalab:
        if self._client is None:
            raise RuntimeError("This operation was not read through a Datalab client.")
        return self._client

    # --- calls ----------------------------------------------------------------------------------
    def refresh(self) -> Operation:
        """Read the operation again from the service."""
        return self._update(self._api().call("GET", self.path))

    def wait(self, *, timeout: float | None = None, progress: ProgressChoice = None,
             poll_interval: float = 3.0) -> Operation:
        """Poll until COMPLETED (returns self) or FAILED (raises OperationFailed with its message).

        Polls every 0.5 s at first, slowing to ``poll_interval``; ``progress`` is None for a bar only
        on a terminal, True or False to force it, or a function of (fraction, message).
        ``timeout`` (seconds) raises WaitTimeout; the operation itself keeps running.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        reporter = progress_reporter(progress, label=f"{self.name} #{self.id}")
        delay = FIRST_POLL_SECONDS
        try:
            while True:
                reporter.update(self.progress, self.message or self.status.replace("_", " ").lower())
                if self.status == "COMPLETED":
                    return self
                if self.status == "FAILED":
                    raise OperationFailed(self)
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise WaitTimeout(f"Operation {self.id} ({self.name}) was still {self.status} after "
                                      f"{timeout:g} s; it keeps running on the service.")
                time.sleep(delay)
                delay = min(delay * POLL_GROWTH, max(poll_interval, FIRST_POLL_SECONDS))
                self.refresh()
        finally:
            reporter.close()

    def cancel(self) -> Operation:
        """Stop a PENDING or IN_PROGRESS operation: it ends FAILED with "Cancelled by the user."."""
        return self._update(self._api().call("POST", self.path + "cancel/"))

    def delete(self) -> None:
        """Delete the operation and its outputs."""
        self._api().call("DELETE", self.path)
