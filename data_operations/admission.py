"""Admission control: will an operation fit in the worker's memory? Decided from headers alone.

Pixel bands are bounded by the memory budget whatever the number of frames; what grows with the
frame size is the handful of whole images an operation keeps (its result, preview and
compression work). An operation whose estimate exceeds the worker's limit is refused with a
sentence before any pixel is decoded, instead of being killed for running out of memory.
"""
from __future__ import annotations

FLOAT32_BYTES = 4
# Open files, tile tables and interpreter overhead per operation, measured on the benchmark.
BASE_OVERHEAD_BYTES = 192 * 1024 * 1024
PER_FRAME_OVERHEAD_BYTES = 256 * 1024
MIB = 1024 * 1024


def estimated_bytes(*, shape: tuple[int, int], frame_count: int, budget_bytes: int,
                    whole_image_copies: float) -> int:
    """Peak memory of an operation over ``frame_count`` frames whose common region is ``shape``."""
    ny, nx = shape
    whole_images = int(whole_image_copies * ny * nx * FLOAT32_BYTES)
    return BASE_OVERHEAD_BYTES + budget_bytes + whole_images + frame_count * PER_FRAME_OVERHEAD_BYTES


def over_limit_message(*, operation: str, shape: tuple[int, int], frame_count: int, needed_bytes: int,
                       limit_bytes: int) -> str:
    ny, nx = shape
    return (f"{operation} of {frame_count} frame(s) of {nx}x{ny} pixels needs about {needed_bytes // MIB} MiB, "
            f"more than the {limit_bytes // MIB} MiB a worker allows one operation. Use smaller frames "
            "or ask the operator to raise OPERATION_MEMORY_LIMIT_BYTES.")
