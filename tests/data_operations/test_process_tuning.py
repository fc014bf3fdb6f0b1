"""Process tuning done on import: freed blocks are reused without new page faults, the GIL switches sooner."""
import subprocess
import sys

import pytest

from data_operations.allocator import keep_freed_memory

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


def test_importing_the_operations_shortens_the_gil_switch_interval():
    probe = "import sys, data_operations; print(sys.getswitchinterval())"
    default = subprocess.run([sys.executable, "-c", "import sys; print(sys.getswitchinterval())"], check=True,
                             capture_output=True, text=True).stdout
    tuned = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert float(default) == 0.005 and float(tuned) == 0.0005
