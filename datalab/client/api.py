"""The entry point: ``Datalab(url, token)`` and what hangs off it."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from datalab.client.archive import Archive
from datalab.client.errors import DatalabError
from datalab.client.records import OperationSpec
from datalab.client.sessions import Sessions
from datalab.client.transport import Transport

DEFAULT_URL = "http://127.0.0.1:8000"


def api_root(url: str) -> str:
    """``http://host:8000/api/`` from the service's address, with or without ``/api``."""
    url = url.strip().rstrip("/")
    if not urlsplit(url).scheme:
        raise ValueError(f"The Datalab URL needs a scheme, e.g. http://{url}")
    return (url if url.endswith("/api") else url + "/api") + "/"


def same_origin(first: str, second: str) -> bool:
    a, b = urlsplit(first), urlsplit(second)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


class Datalab:
    """A connection to one Datalab service as one user.

    Parameters:
        url: the service's address (``http://127.0.0.1:8000``, with or without ``/api``);
            default ``$DATALAB_URL``, else the local development server.
        token: the user's API token; default ``$DATALAB_TOKEN``.
        archive_url: the frames API to search; default ``$DATALAB_ARCHIVE_URL``, else the service's
            embedded archive at ``<url>/archive/``.
        archive_token: token for that archive; default ``$DATALAB_ARCHIVE_TOKEN``, else the Datalab
            token when the archive is on the service's own host, else none (public frames only).
        timeout: seconds for connecting and for each read of one request.
        max_retries, backoff: retries of transient failures (503, no connection) and the first delay.

    Example::

        dl = Datalab("http://127.0.0.1:8000", token)
        frames = dl.archive.search(target="M51", filter="rp", limit=3)
        session = dl.sessions.create("M51 in rp", frames)
        median = session.run("Median", input_files=frames, wait=True)
        median.outputs[0].download(".")
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, *, archive_url: str | None = None,
        archive_token: str | None = None, timeout: float = 60.0, max_retries: int = 4, backoff: float = 0.5,
    ) -> None:
        self.api_url = api_root(url or os.environ.get("DATALAB_URL") or DEFAULT_URL)
        token = token if token is not None else os.environ.get("DATALAB_TOKEN")
        self.transport = Transport(token=token, timeout=timeout, max_retries=max_retries, backoff=backoff)
        archive_url = archive_url or os.environ.get("DATALAB_ARCHIVE_URL") or urljoin(self.api_url, "../archive/")
        if archive_token is None:
            archive_token = os.environ.get("DATALAB_ARCHIVE_TOKEN") or (
                token if same_origin(archive_url, self.api_url) else None)
        archive_transport = Transport(token=archive_token, timeout=timeout, max_retries=max_retries,
                                      backoff=backoff)
        self.archive = Archive(archive_url, archive_transport)
        self.sessions = Sessions(self)
        self._operation_specs: dict[str, OperationSpec] | None = None

    def __repr__(self) -> str:
        return f"Datalab({self.api_url!r})"

    # --- plumbing shared by sessions and operations ----------------------------------------------
    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One API call relative to the API root; returns the decoded JSON, raises DatalabError."""
        return self.transport.request_json(method, urljoin(self.api_url, path), body=body, params=params)

    def paginated(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following ``next``."""
        url: str | None = urljoin(self.api_url, path)
        while url:
            page = self.transport.request_json("GET", url)
            if isinstance(page, list):  # an unpaginated list
                yield from page
                return
            yield from page.get("results") or []
            url = page.get("next")

    # --- what the service offers -----------------------------------------------------------------
    def available_operations(self) -> dict[str, OperationSpec]:
        """Every operation by exact name, with its inputs (read once, then remembered)."""
        if self._operation_specs is None:
            described = self.call("GET", "available_operations/") or {}
            self._operation_specs = {name: OperationSpec.from_description(name, value)
                                     for name, value in described.items()}
        return self._operation_specs

    def operations(self) -> list[OperationSpec]:
        """The operations the service offers, each with its name, description and inputs."""
        return list(self.available_operations().values())

    def operation(self, name: str) -> OperationSpec:
        """One operation's description by exact name; DatalabError listing the names if unknown."""
        specs = self.available_operations()
        if name not in specs:
            raise DatalabError(f"There is no operation named {name!r}; the service offers "
                               f"{', '.join(sorted(specs))}.")
        return specs[name]
