"""Data operations: one module per operation, each a BaseDataOperation subclass.

Pure numpy/astropy code: nothing here imports Django, so every kernel is testable on arrays.
Importing the package changes nothing process-wide: the worker applies its process tuning
(``allocator.keep_freed_memory``, ``kernels.threads.shorten_gil_switch_interval``) when it boots.
"""
