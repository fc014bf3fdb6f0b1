"""Data sessions: listing, creating, reading and deleting them, and running operations in them."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datalab.client.inputs import FileLike, file_items, unknown_basenames
from datalab.client.operations import Operation
from datalab.client.progress import ProgressChoice

if TYPE_CHECKING:
    from datalab.client.api import Datalab


@dataclass
class Session:
    """A data session: a named set of input frames and the operations run on them."""

    id: int
    name: str
    input_data: list[dict[str, Any]]
    operations: list[Operation]
    accessed: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    _client: Datalab | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any], client: Datalab | None) -> Session:
        return cls(id=body["id"], name=body.get("name", ""), input_data=list(body.get("input_data") or []),
                   operations=[Operation.from_json(op, client, body["id"]) for op in body.get("operations") or []],
                   accessed=body.get("accessed"), raw=dict(body), _client=client)

    @property
    def path(self) -> str:
        return f"datasessions/{self.id}/"

    def _api(self) -> Datalab:
        if self._client is None:
            raise RuntimeError("This session was not read through a Datalab client.")
        return self._client

    def _update(self, body: dict[str, Any]) -> Session:
        fresh = Session.from_json(body, self._client)
        for name in ("name", "input_data", "operations", "accessed", "raw"):
            setattr(self, name, getattr(fresh, name))
        return self

    def known_items(self) -> dict[str, dict[str, Any]]:
        """Basename -> item for this session's inputs and its operations' outputs."""
        known = {item["basename"]: item for item in self.input_data if isinstance(item, dict) and "basename" in item}
        for operation in self.operations:
            known.update({output.basename: output.as_input() for output in operation.outputs})
        return known

    # --- calls ----------------------------------------------------------------------------------
    def refresh(self) -> Session:
        """Read the session (its inputs and operations) again."""
        return self._update(self._api().call("GET", self.path))

    def add_inputs(self, frames: Iterable[FileLike]) -> Session:
        """Add frames to the session's inputs (the service keeps each item once)."""
        items = file_items(list(self.input_data) + file_items(frames, self.known_items()))
        return self._update(self._api().call("PATCH", self.path, {"name": self.name, "input_data": items}))

    def operation(self, operation_id: int) -> Operation:
        """One operation of this session, read now."""
        return Operation.from_json(self._api().call("GET", f"{self.path}operations/{operation_id}/"),
                                   self._client, self.id)

    def list_operations(self) -> list[Operation]:
        """This session's operations in creation order, read now."""
        return [Operation.from_json(body, self._client, self.id)
                for body in self._api().paginated(f"{self.path}operations/")]

    def run(self, operation: str, inputs: Mapping[str, Any] | None = None, *, wait: bool = False,
            timeout: float | None = None, progress: ProgressChoice = None, **input_values: Any) -> Operation:
        """Start ``operation`` (its exact name, e.g. "Median") with the given inputs; optionally wait.

        Inputs are keyword arguments (or a dict, for keys that are not Python names). Image inputs
        (``input_files``, ``subtraction_file``, ...) take Frames, Outputs, item dicts or basenames:
        a basename of a session input or an earlier output refers to it, any other to the archive.
        With ``wait=True`` this returns once the operation is COMPLETED, showing progress on a
        terminal, and raises OperationFailed with the service's message if it fails.
        """
        client = self._api()
        values = {**(inputs or {}), **input_values}
        spec = client.available_operations().get(operation)
        file_keys = spec.file_inputs() if spec else []
        if any(unknown_basenames(values.get(key), self.known_items()) for key in file_keys):
            self.refresh()  # an output made since this session was read may be named
        known = self.known_items()
        input_data = {key: file_items(value, known) if key in file_keys else value for key, value in values.items()}
        body = client.call("POST", f"{self.path}operations/", {"name": operation, "input_data": input_data})
        started = Operation.from_json(body, client, self.id)
        if wait:
            started.wait(timeout=timeout, progress=progress)
        return started

    def delete(self) -> None:
        """Delete the session with its operations and their outputs."""
        self._api().call("DELETE", self.path)


class Sessions:
    """``dl.sessions``: the requesting user's data sessions."""

    def __init__(self, client: Datalab) -> None:
        self._client = client

    def list(self) -> list[Session]:
        """Every session of the user, newest first."""
        return [Session.from_json(body, self._client) for body in self._client.paginated("datasessions/")]

    def create(self, name: str, frames: Iterable[FileLike] = ()) -> Session:
        """A new session called ``name`` holding ``frames`` (Frames, item dicts or archive basenames)."""
        body = self._client.call("POST", "datasessions/", {"name": name, "input_data": file_items(frames)})
        return Session.from_json(body, self._client)

    def get(self, session_id: int) -> Session:
        """One session with its inputs and operations."""
        return Session.from_json(self._client.call("GET", f"datasessions/{int(session_id)}/"), self._client)

    def delete(self, session_id: int) -> None:
        """Delete a session with its operations and their outputs."""
        self._client.call("DELETE", f"datasessions/{int(session_id)}/")
