"""Running a band kernel on several threads: numpy releases the GIL for whole-array work."""
from __future__ import annotations

import os


def core_count() -> int:
    """Cores this process may run on (the container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def split_rows(rows: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` (or fewer) consecutive ``(start, stop)`` row ranges covering ``rows``, sizes within one."""
    parts = max(1, min(parts, rows))
    return [(rows * part // parts, rows * (part + 1) // parts) for part in range(parts)]
