"""The first raw-data on an uncached frame streams it once; its answer equals the one built from pixels."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from astropy.io import fits

from data_operations.analysis import imaging
from data_operations.products import zscale_limits
from datalab.analysis.products import FrameProducts
from datalab.archive.frame_cache import FrameCache
from datalab.local_archive.synthetic import make_frame, write_frame


def products(tmp_path, fits_path, cache_name: str) -> FrameProducts:
    cache = FrameCache(directory=tmp_path / cache_name, max_bytes=10**9)
    return FrameProducts(fits_path=fits_path, identity="frame-1", cache=cache, label="frame-1.fits")


@pytest.fixture()
def frame_path(tmp_path):
    hdul = make_frame(shape=(300, 200), seed=5, n_stars=30)
    data = np.array(hdul["SCI"].data, dtype=np.float32)
    data[40:52, 10:30] = np.nan  # whole 4x4 cells and partial ones, for both reductions
    data[7, 9] = np.inf
    hdul["SCI"].data = data
    return write_frame(hdul, tmp_path / "frame.fits.fz")


@pytest.mark.parametrize("max_size", [50, 64])  # 300x200 -> 50x50 is whole blocks; 64 is not
def test_streamed_first_answer_equals_the_answer_from_cached_pixels(tmp_path, frame_path, max_size):
    streamed = products(tmp_path, frame_path, "streamed")
    first = json.loads(streamed.raw_data_json(max_size))
    assert [path.name for path in (tmp_path / "streamed").glob("*.pixels.npy")] == []

    from_pixels = products(tmp_path, frame_path, "from-pixels")
    pixels = np.asarray(from_pixels.pixels)
    assert json.loads(from_pixels.raw_data_json(max_size)) == first
    assert len(list((tmp_path / "from-pixels").glob("*.pixels.npy"))) == 1
    assert streamed.stats == from_pixels.stats

    with fits.open(frame_path) as hdul:
        expected = np.array(hdul["SCI"].data, dtype=np.float64)
    expected[~np.isfinite(expected)] = np.nan
    np.testing.assert_array_equal(pixels, expected.astype(np.float32))
    assert (first["zmin"], first["zmax"]) == zscale_limits(pixels)
    assert streamed.stats["maximum"] == float(np.nanmax(expected))
    assert streamed.stats["max_magnitude"] == float(np.nanmax(np.abs(expected)))
    if max_size == 50:  # whole 6x4 blocks: the mean of each block's finite pixels, top row first
        blocks = expected.reshape(50, 6, 50, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks are NaN, as they should be
            means = np.nanmean(blocks, axis=(1, 3))[::-1]
        decimals = imaging.display_decimals(streamed.stats["max_magnitude"])
        assert np.isnan(means).any()
        data = np.array([np.nan if value is None else value for value in first["data"]]).reshape(50, 50)
        np.testing.assert_allclose(data, means.astype(np.float32), rtol=1e-6, atol=10.0 ** -decimals)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_streamed_reductions_skip_a_lone_non_finite_pixel_and_an_empty_band(bad):
    from data_operations.analysis.resample import AreaAverager

    rng = np.random.default_rng(3)
    image = rng.normal(100.0, 5.0, (40, 30)).astype(np.float32)
    image[3, 4] = bad  # one pixel in the first band
    image[20:30] = np.nan  # a whole band with no finite pixel
    statistics, averager = imaging.FrameStatistics(image.shape), AreaAverager(image.shape, (20, 15))
    for first in range(0, 40, 10):
        statistics.add(first, image[first:first + 10])
        averager.add(first, image[first:first + 10])
    finite = image[np.isfinite(image)]
    stats = statistics.result()
    assert stats["maximum"] == float(finite.max())
    assert stats["max_magnitude"] == float(np.abs(finite).max())
    blocks = np.where(np.isfinite(image), image, np.nan).astype(np.float64).reshape(20, 2, 15, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmean(blocks, axis=(1, 3)).astype(np.float32)
    np.testing.assert_array_equal(averager.result(), expected)
