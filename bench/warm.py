"""Median in a warm process, as a worker runs its second and later operations.

    python -m bench.warm RUNS OUT_DIR PATH...

One untimed run first (imports, thread pools, the allocator's heap), then ``RUNS`` timed runs of
the same operation in the same process; prints one JSON line per timed run: wall and CPU seconds,
and the process's peak RSS so far (which includes the untimed run).
"""
from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.pipelines import run_ours


def main(argv: list[str]) -> None:
    runs, out_dir, *paths = argv
    frames = [Path(path) for path in paths]
    with tempfile.TemporaryDirectory(dir=out_dir) as first:
        run_ours(frames, Path(first))
    for _ in range(int(runs)):
        with tempfile.TemporaryDirectory(dir=out_dir) as target:
            started, cpu_started = time.perf_counter(), time.process_time()
            run_ours(frames, Path(target))
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak_mib}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
