"""A fake observatory archive for client tests: a tiny threaded HTTP server on 127.0.0.1.

It speaks the frames API over in-memory frames, and its next responses can be scripted (500s, 429
with Retry-After, hangs, truncated or corrupt bodies), so failure handling is tested over a real
socket.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from datalab.local_archive.synthetic import make_frame

TINY_FRAME_SHAPE = (48, 64)


def tiny_fits_bytes(seed: int = 0) -> bytes:
    """A small but complete frame (SCI + CAT) as .fits.fz bytes."""
    buffer = io.BytesIO()
    make_frame(shape=TINY_FRAME_SHAPE, seed=seed, n_stars=8).writeto(buffer)
    return buffer.getvalue()


@dataclass
class Reply:
    """A scripted response: status, body and headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hang:
    """Sleep before answering normally (longer than the client's timeout)."""

    seconds: float


@dataclass
class Truncate:
    """Declare the full Content-Length, send half the file, close the connection."""


@dataclass
class Corrupt:
    """Send a body of the right length whose bytes differ (md5 mismatch)."""


class QuietServer(ThreadingHTTPServer):
    """Clients that give up (timeouts, truncation tests) are expected: no tracebacks for them."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class FakeFrame:
    id: int
    basename: str
    body: bytes
    md5: str | None
    visible_to: set[str] | None = None  # None: public; else the tokens that may see it
    download_host: str = "127.0.0.1"


class FakeArchive:
    """The frames API over in-memory frames; ``script(kind, ...)`` queues the next responses.

    ``kind`` is "list", "headers" or "download"; ``hits[kind]`` counts requests that reached it.
    """

    def __init__(self) -> None:
        self.frames: dict[str, FakeFrame] = {}
        self.scripts: dict[str, deque] = defaultdict(deque)
        self.hits: Counter[str] = Counter()
        self.authorizations: dict[str, list[str | None]] = defaultdict(list)
        self.download_delay = 0.0
        self.lock = threading.Lock()
        self.server = QuietServer(("127.0.0.1", 0), self._handler_class())
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def add_frame(self, basename: str, body: bytes, *, with_md5: bool = True,
                  md5: str | None = None, visible_to: set[str] | None = None,
                  download_host: str = "127.0.0.1") -> FakeFrame:
        frame = FakeFrame(
            id=len(self.frames) + 1, basename=basename, body=body,
            md5=md5 or (hashlib.md5(body).hexdigest() if with_md5 else None),
            visible_to=visible_to, download_host=download_host,
        )
        self.frames[basename] = frame
        return frame

    def script(self, kind: str, *actions: Any) -> None:
        self.scripts[kind].extend(actions)

    def record(self, frame: FakeFrame) -> dict[str, Any]:
        url = f"http://{frame.download_host}:{self.port}/files/{frame.basename}"
        version = {"id": frame.id, "created": "2026-11-01T00:00:00Z", "key": "k", "md5": frame.md5,
                   "extension": ".fits.fz", "url": url}
        return {"id": frame.id, "basename": frame.basename, "filename": f"{frame.basename}.fits.fz",
                "url": url, "version_set": [version]}

    def visible(self, frame: FakeFrame, token: str | None) -> bool:
        return frame.visible_to is None or token in frame.visible_to

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        archive = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                archive.handle(self)

        return Handler

    # --- request handling -------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        segments = [segment for segment in parts.path.split("/") if segment]
        kind = "list"
        if segments[:1] == ["files"]:
            kind = "download"
        elif segments[-1:] == ["headers"]:
            kind = "headers"
        authorization = request.headers.get("Authorization")
        token = authorization.split(" ", 1)[1] if authorization else None
        with self.lock:
            self.hits[kind] += 1
            self.authorizations[kind].append(authorization)
            action = self.scripts[kind].popleft() if self.scripts[kind] else None
        if isinstance(action, Reply):
            return self._send(request, action.status, action.body, action.headers)
        if isinstance(action, Hang):
            time.sleep(action.seconds)
        if kind == "list":
            basename = parse_qs(parts.query).get("basename_exact", [""])[0]
            frame = self.frames.get(basename)
            results = [self.record(frame)] if frame and self.visible(frame, token) else []
            return self._send_json(request, {"count": len(results), "next": None, "previous": None,
                                             "results": results})
        if kind == "headers":
            frame = next((f for f in self.frames.values() if f.id == int(segments[-2])), None)
            if frame is None or not self.visible(frame, token):
                return self._send_json(request, {"error": "Not found."}, status=404)
            return self._send_json(request, {"data": {"FILTER": "rp", "OBJECT": "M51"}})
        frame = self.frames.get(segments[1]) if len(segments) > 1 else None
        if frame is None:
            return self._send_json(request, {"error": "Not found."}, status=404)
        time.sleep(self.download_delay)
        if isinstance(action, Truncate):
            request.send_response(200)
            request.send_header("Content-Length", str(len(frame.body)))
            request.end_headers()
            request.wfile.write(frame.body[: len(frame.body) // 2])
            request.wfile.flush()
            request.close_connection = True
            return None
        body = bytes(byte ^ 0xFF for byte in frame.body[:64]) + frame.body[64:] \
            if isinstance(action, Corrupt) else frame.body
        return self._send(request, 200, body, {"Content-Type": "application/octet-stream"})

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _send_json(self, request: BaseHTTPRequestHandler, payload: dict, status: int = 200) -> None:
        self._send(request, status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def cache_contents(directory: Path) -> dict[str, list[str]]:
    """Files in a frame cache: cached frames and leftover temporaries."""
    return {
        "frames": sorted(p.name for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")),
        "temporaries": sorted(p.name for p in (directory / ".tmp").iterdir()),
    }
