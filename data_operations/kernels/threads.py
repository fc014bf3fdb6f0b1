"""Running a band kernel on several threads: numpy releases the GIL for whole-array work."""
from __future__ import annotations

import os
import sys


def core_count() -> int:
    """Cores this process may run on (the container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def split_rows(rows: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` (or fewer) consecutive ``(start, stop)`` row ranges covering ``rows``, sizes within one."""
    parts = max(1, min(parts, rows))
    return [(rows * part // parts, rows * (part + 1) // parts) for part in range(parts)]


# How long a thread running Python may keep the GIL while another asks for it. Our threads hand it
# over thousands of times a second (one C call per compressed tile, one ufunc per network pass),
# and a thread back from a C call waits for the holder's next switch point: 0.5 ms instead of
# CPython's 5 ms made Median ~4-5% and Combine ~8% faster on two cores.
GIL_SWITCH_INTERVAL_S = 0.0005


def shorten_gil_switch_interval() -> None:
    """Let decoder and kernel threads get the GIL back sooner (a process-wide interpreter setting)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
