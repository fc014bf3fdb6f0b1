"""Whole-image statistics used to scale frames (Normalization)."""
from __future__ import annotations

import numpy as np


def finite_median(image: np.ndarray) -> float | None:
    """Median of the finite pixels of ``image`` (float64), or None when it has none.

    Works on one copy of the finite pixels, partitioned in place, so a 4096x4096 float32 frame
    needs 64 MiB extra at most.
    """
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return None
    return float(np.median(finite, overwrite_input=True))
