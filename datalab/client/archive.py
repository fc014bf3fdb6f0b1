"""Searching the observatory archive's frames API for frames to put in a session.

The service's embedded archive serves the same API at ``<service>/archive/``, the default. A real
observatory archive is another host: its own URL and, for proprietary frames, its own token (the
Datalab token is never sent to another host).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from datalab.client.errors import DatalabError
from datalab.client.records import Frame, basename_of
from datalab.client.transport import Transport

MAX_PAGE = 1000  # the frames API's largest page


def query_value(value: Any) -> str:
    """A filter value as the frames API reads it (ISO dates, lower-case booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


class Archive:
    """``dl.archive``: frames from the archive's ``frames/`` list, ready to use as session inputs."""

    def __init__(self, base_url: str, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.transport = transport

    def search(
        self, *, target: str | None = None, filter: str | None = None,
        start: str | date | datetime | None = None, end: str | date | datetime | None = None,
        basename: str | None = None, proposal: str | None = None, public: bool | None = None,
        exclude_calibrations: bool | None = None, reduction_level: int | None = None,
        covers: tuple[float, float] | None = None, limit: int | None = 100, **filters: Any,
    ) -> list[Frame]:
        """Frames matching every filter given, newest first, at most ``limit`` (None: all).

        ``target`` matches part of the object name, ``filter`` the filter exactly (``rp``), ``start``
        and ``end`` bound the observation date (a bare ``end`` date includes that day), ``covers``
        is a sky position (ra, dec) in degrees the frame must contain. Other keyword arguments are
        passed to the frames API as they are (``site_id="ogg"``, ``search="M51"``, ...).
        """
        params: dict[str, Any] = {
            "target_name": target, "primary_optical_element": filter, "start": start, "end": end,
            "basename": basename, "proposal_id": proposal, "public": public,
            "exclude_calibrations": exclude_calibrations, "reduction_level": reduction_level,
            "covers": f"POINT({covers[0]} {covers[1]})" if covers else None, **filters,
        }
        query = {key: query_value(value) for key, value in params.items() if value is not None}
        frames: list[Frame] = []
        url: str | None = self.base_url + "frames/"
        query["limit"] = str(MAX_PAGE if limit is None else max(1, min(limit, MAX_PAGE)))
        page_query: dict[str, Any] | None = query
        while url and (limit is None or len(frames) < limit):
            page = self.transport.request_json("GET", url, params=page_query)
            frames.extend(Frame.from_record(record) for record in page.get("results") or [])
            url, page_query = page.get("next"), None  # ``next`` carries the query itself
        return frames if limit is None else frames[:limit]

    def find(self, name: str) -> Frame:
        """The frame with this exact basename (a file name works too); DatalabError 404 if unseen."""
        basename = basename_of(name)
        page = self.transport.request_json("GET", self.base_url + "frames/",
                                           params={"basename_exact": basename, "limit": "1"})
        results = page.get("results") or []
        if not results:
            raise DatalabError(f"The archive has no frame {basename}, or it is not visible with this token.",
                               status=404, url=self.base_url)
        return Frame.from_record(results[0])
