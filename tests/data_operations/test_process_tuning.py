"""Process tuning: freed blocks are reused without new page faults, the GIL switches sooner — in workers only."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_operations.allocator import keep_freed_memory

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from data_operations.allocator import keep_freed_memory
    assert keep_freed_memory()
# Temporaries of changing sizes, one kept while the next is made, as a kernel makes them per band.
sizes = np.random.default_rng(0).integers(100_000, 3_000_000, 60).tolist()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
kept = None
for size in sizes:
    block = np.ones(size)
    scratch = np.ones(size // 3)
    kept = block
    del scratch
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str) -> int:
    # A fresh interpreter: importing data_operations in this test process has tuned it already.
    return int(subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True,
                              text=True).stdout)


@pytest.mark.skipif(not keep_freed_memory(), reason="not glibc")
def test_freed_blocks_are_reused_without_new_page_faults():
    default, tuned = _page_faults("default"), _page_faults("tuned")
    # ~12 600 against ~4 400 here: glibc's defaults unmap and trim freed blocks, so they fault again.
    assert tuned * 2 < default


def _run(code: str) -> str:
    # The in-process broker: a booted worker must not consume anyone's Redis queue.
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=env).stdout.strip()


WEB_PROCESS = """
import sys, django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datalab.settings")
django.setup()
import dramatiq, data_operations, datalab.wsgi
from datalab.datalab_session import tasks
dramatiq.get_broker()
print(sys.getswitchinterval())
"""

WORKER_BOOT = """
import sys, django, os, types
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datalab.settings")
django.setup()
import dramatiq
from datalab.datalab_session import tasks
before = sys.getswitchinterval()
worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=3)
worker.start()
print(before, sys.getswitchinterval(), worker.queue_prefetch, worker.consumers["datalab"].prefetch,
      worker.consumers["datalab"].worker_timeout)
worker.stop()
"""


def test_the_web_process_keeps_the_default_gil_switch_interval():
    default = float(_run("import sys; print(sys.getswitchinterval())"))
    assert default == 0.005
    assert float(_run(WEB_PROCESS)) == default


def test_a_booting_worker_tunes_itself_and_prefetches_one_message_per_thread():
    before, after, prefetch, consumer_prefetch, poll_ms = _run(WORKER_BOOT).split()
    assert (float(before), float(after)) == (0.005, 0.0005)
    assert (int(prefetch), int(consumer_prefetch)) == (3, 3)
    # Its consumers poll the broker at least every WORKER_POLL_MILLISECONDS, not Dramatiq's 1000 ms.
    assert int(poll_ms) == 100
