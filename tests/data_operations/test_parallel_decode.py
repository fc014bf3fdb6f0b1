"""Decoding bands on decoder threads gives the same pixels as reading them one frame at a time."""
import numpy as np

from data_operations.frames import FrameStack
from datalab.local_archive.synthetic import make_frame, write_frame


def test_parallel_bands_equal_serial_bands(tmp_path):
    paths = [write_frame(make_frame(shape=(96 + 8 * index, 80), seed=index, n_stars=20), tmp_path / f"f{index}.fits")
             for index in range(3)]
    with FrameStack(paths) as stack:
        serial = [(y0, y1, band.copy()) for y0, y1, band in stack.bands(40, workers=0)]
        parallel = [(y0, y1, band.copy()) for y0, y1, band in stack.bands(40, workers=2)]
    assert [(y0, y1) for y0, y1, _ in parallel] == [(0, 40), (40, 80), (80, 96)]
    assert [(y0, y1) for y0, y1, _ in serial] == [(y0, y1) for y0, y1, _ in parallel]
    for (_, _, expected), (_, _, got) in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.float32 and got.shape[0] == 3
