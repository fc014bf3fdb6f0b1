"""Private Redis and PostgreSQL servers on free loopback ports, for tests that stop, flush or restart them.

A developer's own Redis and PostgreSQL (on the default ports, or wherever REDIS_URL and
DATABASE_URL point) may hold other work: tests never touch them this way. A fault test starts its
own instance here, points the processes under test at it, and removes it afterwards.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on at the moment (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {timeout} s")


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class PrivateRedis:
    """``redis-server`` on a free port without persistence, in a temporary directory.

    Given a port and directory it takes over a server started by another process (the fault
    tests run in a child pytest that restarts the server its parent started).
    """

    def __init__(self, port: int | None = None, directory: Path | None = None) -> None:
        self.port = port or free_port()
        self.directory = directory or Path(tempfile.mkdtemp(prefix="private-redis-"))

    def describe(self) -> str:
        """``port:directory``, what ``from_description`` takes back."""
        return f"{self.port}:{self.directory}"

    @classmethod
    def from_description(cls, text: str) -> PrivateRedis:
        port, directory = text.split(":", 1)
        return cls(int(port), Path(directory))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "yes",
                   "--logfile", str(self.directory / "redis.log"), "--pidfile", str(self.directory / "redis.pid")]
        subprocess.run(command, check=True, timeout=10)
        _wait(lambda: self.ping(), 10, f"private Redis on port {self.port} answering")
        return self

    def ping(self) -> bool:
        result = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        """Stop the server this object started, by the pid in its own pid file: never whatever else
        answers on the port. It keeps nothing on disk (--save ''), so SIGTERM loses nothing
        worth keeping. Waits until its port is closed."""
        pid_file = self.directory / "redis.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except ProcessLookupError:
                pass
        _wait(lambda: not _port_open(self.port), 10, f"private Redis on port {self.port} stopping")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _postgres_bin(name: str) -> str:
    """A PostgreSQL server program: on PATH, else the newest under /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not candidates:
        raise RuntimeError(f"{name} not found: install the PostgreSQL server programs")
    return candidates[-1]


def _unprivileged_prefix() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as ``nobody`` then."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (``initdb`` into a temporary directory) on a free port.

    The superuser is ``postgres`` with trust authentication on loopback and a socket in the
    cluster's own directory, so it never shares a socket or port with the machine's cluster.
    """

    def __init__(self, port: int | None = None, directory: Path | None = None) -> None:
        self.port = port or free_port()
        self.directory = directory or Path(tempfile.mkdtemp(prefix="private-postgres-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.pg_ctl = _postgres_bin("pg_ctl")
        self.prefix = _unprivileged_prefix()
        if self.prefix:
            shutil.chown(self.directory, "nobody", "nogroup")

    def describe(self) -> str:
        return f"{self.port}:{self.directory}"

    @classmethod
    def from_description(cls, text: str) -> PrivatePostgres:
        port, directory = text.split(":", 1)
        return cls(int(port), Path(directory))

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=timeout,
                                cwd=self.directory)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.directory} -h 127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", action)

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        self._ctl("start")
        _wait(lambda: _port_open(self.port), 30, f"private PostgreSQL on port {self.port} listening")
        return self

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
