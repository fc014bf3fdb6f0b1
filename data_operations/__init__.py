"""Data operations: one module per operation, each a BaseDataOperation subclass.

Pure numpy/astropy code: nothing here imports Django, so every kernel is testable on arrays.
Importing the package tunes the process for band-by-band work on threads: freed memory is kept
for reuse (``allocator``) and the GIL changes hands sooner (``kernels.threads``).
"""
from data_operations.allocator import keep_freed_memory
from data_operations.kernels.threads import shorten_gil_switch_interval

keep_freed_memory()
shorten_gil_switch_interval()
