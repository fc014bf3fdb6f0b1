"""Liveness probe of a worker container: every worker process has beaten recently.

Run as ``python -m datalab.observability.worker_liveness [--max-age SECONDS] [DIRECTORY]``; it
exits 0 when at least one heartbeat file exists and none is older than ``--max-age``. It imports
no Django, so a probe costs a few milliseconds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def stale_heartbeats(directory: Path, max_age: float, now: float | None = None) -> tuple[int, list[str]]:
    """(number of heartbeat files, names of those older than ``max_age`` seconds)."""
    now = time.time() if now is None else now
    files = [path for path in directory.iterdir() if path.is_file()] if directory.is_dir() else []
    return len(files), [path.name for path in files if now - path.stat().st_mtime > max_age]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?",
                        default=os.environ.get("WORKER_HEARTBEAT_DIR", "/tmp/datalab-heartbeat"))
    parser.add_argument("--max-age", type=float, default=60.0)
    args = parser.parse_args(argv)
    count, stale = stale_heartbeats(Path(args.directory), args.max_age)
    if count == 0:
        print(f"no worker heartbeat in {args.directory}", file=sys.stderr)
        return 1
    if stale:
        print(f"worker process(es) {', '.join(stale)} stopped beating", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
