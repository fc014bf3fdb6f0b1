"""Loopback stand-ins for the Gaia TAP service: one that never answers, one that errs, one that serves a table."""
from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from astropy.io.votable import from_table
from astropy.table import Table


@contextmanager
def silent_server(trickle: bool = False) -> Iterator[str]:
    """A TAP URL on 127.0.0.1 whose server accepts connections and never answers.

    With ``trickle`` it starts an answer and sends one more header byte every 0.2 s, so no single
    read ever times out.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)
            if trickle:
                threading.Thread(target=drip, args=(connection,), daemon=True).start()

    def drip(connection: socket.socket) -> None:
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.wait(0.2):
                connection.sendall(b"a")
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/tap"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


JOB = """<?xml version="1.0" encoding="UTF-8"?>
<uws:job xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" xmlns:xlink="http://www.w3.org/1999/xlink"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <uws:jobId>job1</uws:jobId>
  <uws:phase>{phase}</uws:phase>
  <uws:executionDuration>0</uws:executionDuration>
  <uws:parameters/>
  <uws:results>{results}</uws:results>
</uws:job>"""


class FakeTap:
    """A minimal asynchronous TAP service answering every query with ``table`` (or HTTP ``status``)."""

    def __init__(self, table: Table | None = None, *, status: int = 200, polls_before_done: int = 1):
        self.table, self.status, self.polls_before_done = table, status, polls_before_done
        self.queries: list[str] = []
        self.requests: list[str] = []
        self.phase = "PENDING"
        self.polls = 0

    @contextmanager
    def serving(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def reply(self, status: int, body: bytes = b"", content_type: str = "text/xml",
                      location: str | None = None) -> None:
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def base(self) -> str:
                return f"http://{self.headers['Host']}/tap/async/job1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                fake.requests.append(f"POST {self.path}")
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                if fake.status != 200:
                    return self.reply(fake.status, b"unavailable", "text/plain")
                if self.path == "/tap/async":
                    fake.queries.append(form["QUERY"][0])
                    return self.reply(303, location=self.base())
                if self.path == "/tap/async/job1/phase":
                    fake.phase = "EXECUTING"
                    return self.reply(303, location=self.base())
                return self.reply(404)

            def do_GET(self) -> None:  # noqa: N802
                fake.requests.append(f"GET {self.path}")
                if self.path.startswith("/tap/async/job1/results/result"):
                    buffer = io.BytesIO()
                    from_table(fake.table).to_xml(buffer)
                    return self.reply(200, buffer.getvalue(), "application/x-votable+xml")
                if self.path.startswith("/tap/async/job1"):
                    if fake.phase == "EXECUTING":
                        fake.polls += 1
                        if fake.polls > fake.polls_before_done:
                            fake.phase = "COMPLETED"
                    results = (f'<uws:result id="result" xlink:href="{self.base()}/results/result"/>'
                               if fake.phase == "COMPLETED" else "")
                    return self.reply(200, JOB.format(phase=fake.phase, results=results).encode())
                return self.reply(404)

            def do_DELETE(self) -> None:  # noqa: N802
                fake.requests.append(f"DELETE {self.path}")
                self.reply(303, location="http://{}/tap/async".format(self.headers["Host"]))

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/tap"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
