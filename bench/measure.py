"""Running a command and measuring its whole process tree: wall time, CPU time, peak memory.

The peak is taken over the tree's *summed* memory, sampled every ``interval`` seconds from
``/proc``: ``ru_maxrss`` would only give the largest single process. Two sums are reported: RSS
(counts pages shared between processes, e.g. libraries, once per process: an upper bound) and PSS
(shares each page among the processes mapping it: the tree's real footprint). CPU time is the sum
of every process's last sampled CPU time, or the child's ``getrusage`` when that is larger (the
pipelines' own helper processes, if any, are not always waited for by the child).
"""
from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PAGE_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    peak_pss_mib: float


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                queue.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                pass
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / PAGE_TICKS  # utime, stime


def run_measured(command: list[str], *, interval: float = 0.02, env: dict | None = None) -> Measurement:
    """Run ``command`` to completion and measure it; raises CalledProcessError when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env)
    peak_rss = peak_pss = 0
    descendant_cpu: dict[int, float] = {}
    while process.poll() is None:
        pids = _descendants(process.pid)
        totals = [_memory_kib(pid) for pid in pids]
        peak_rss = max(peak_rss, sum(rss for rss, _ in totals))
        peak_pss = max(peak_pss, sum(pss for _, pss in totals))
        for pid in pids:
            descendant_cpu[pid] = max(descendant_cpu.get(pid, 0.0), _cpu_seconds(pid))
        time.sleep(interval)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    own_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measurement(wall_s=wall, cpu_s=max(own_cpu, sum(descendant_cpu.values())),
                       peak_rss_mib=peak_rss / 1024, peak_pss_mib=peak_pss / 1024)
