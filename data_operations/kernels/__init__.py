"""Pure array kernels (numpy only): each takes arrays and returns arrays, with no file access."""
from data_operations.kernels.median import nanmedian_band

__all__ = ["nanmedian_band"]
