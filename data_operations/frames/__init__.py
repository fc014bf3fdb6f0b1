"""Reading input frames: the SCI image of each FITS file, a band of rows at a time."""
from data_operations.frames.reader import FrameInfo, FrameStack, band_rows_for_budget, efficient_band_rows

__all__ = ["FrameInfo", "FrameStack", "band_rows_for_budget", "efficient_band_rows"]
