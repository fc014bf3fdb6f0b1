"""Benchmarks of the operation pipelines; run ``python -m bench --help``."""
