"""Data operations: one module per operation, each a BaseDataOperation subclass.

Pure numpy/astropy code: nothing here imports Django, so every kernel is testable on arrays.
"""
