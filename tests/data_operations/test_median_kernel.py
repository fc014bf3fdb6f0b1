"""nanmedian_band against np.nanmedian, including NaN corner cases."""
import warnings

import numpy as np
import pytest

from data_operations.kernels import nanmedian_band

pytestmark = pytest.mark.usefixtures("kernel_path")  # each test on the C network and on the numpy sort


def reference(band: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # np.nanmedian warns on all-NaN pixels
        return np.nanmedian(band, axis=0)


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5, 8, 11])
def test_equals_numpy_nanmedian_with_nans(frames):
    rng = np.random.default_rng(frames)
    band = rng.normal(100.0, 20.0, size=(frames, 13, 17)).astype(np.float32)
    band[rng.random(band.shape) < 0.25] = np.nan
    band[:, 0, 0] = np.nan  # an all-NaN pixel
    band[0, 1, 1] = np.inf
    band[-1, 2, 2] = -np.inf

    result = nanmedian_band(band)

    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, reference(band))
    assert np.isnan(result[0, 0])


def test_all_nan_pixel_gives_nan_without_warnings():
    band = np.full((4, 3, 3), np.nan, dtype=np.float32)
    band[:, 1, 1] = [1.0, 2.0, 3.0, 10.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = nanmedian_band(band)
    assert result[1, 1] == 2.5
    assert np.isnan(result[0, 0]) and np.isnan(result[2, 2])


def test_even_and_odd_counts_per_pixel():
    band = np.array([[[1.0, 1.0]], [[5.0, 5.0]], [[2.0, np.nan]], [[9.0, 7.0]]], dtype=np.float32)
    # pixel 0: {1, 5, 2, 9} -> (2 + 5) / 2; pixel 1: {1, 5, 7} -> 5
    np.testing.assert_array_equal(nanmedian_band(band), [[3.5, 5.0]])


def test_leaves_input_untouched_and_fills_out():
    rng = np.random.default_rng(3)
    band = rng.normal(size=(5, 6, 7)).astype(np.float32)
    before = band.copy()
    out = np.zeros((6, 7), dtype=np.float32)
    returned = nanmedian_band(band, out=out)
    assert returned is out
    np.testing.assert_array_equal(band, before)
    np.testing.assert_array_equal(out, np.median(band, axis=0))


def test_integer_band_is_combined_as_float32():
    band = np.array([[[1, 4]], [[2, 6]]], dtype=np.int16)
    result = nanmedian_band(band)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, [[1.5, 5.0]])


def test_rejects_wrong_out_shape():
    with pytest.raises(ValueError):
        nanmedian_band(np.zeros((2, 3, 4), np.float32), out=np.zeros((3, 3), np.float32))


def test_an_empty_band_gives_an_empty_median():
    assert nanmedian_band(np.ones((5, 0, 7), np.float32)).shape == (0, 7)


@pytest.mark.parametrize("frames", [2, 3, 6, 7, 10, 16, 17, 30, 31, 64, 100])
def test_network_equals_numpy_over_many_blocks(frames):
    """Enough pixels for several blocks of the C kernel and a partial last one; ties, infinities, NaNs."""
    rng = np.random.default_rng(100 + frames)
    band = rng.integers(-20, 20, size=(frames, 3, 701)).astype(np.float32)  # many ties
    band[:, 1] = rng.standard_cauchy(size=(frames, 701)).astype(np.float32)
    band[0, 2, ::97] = np.inf
    band[-1, 2, 5::89] = -np.inf
    band[rng.random(band.shape) < 0.002] = np.nan
    np.testing.assert_array_equal(nanmedian_band(band), reference(band))


def test_network_reads_strided_bands_and_writes_strided_out():
    rng = np.random.default_rng(8)
    wide = rng.normal(size=(9, 40, 300)).astype(np.float32)
    band = wide[:, 5:35, 10:290]  # rows not contiguous with each other
    out = np.zeros((30, 560), dtype=np.float32)[:, ::2]  # every other column
    nanmedian_band(band, out=out)
    np.testing.assert_array_equal(out, np.median(band, axis=0))


def test_network_kernel_refuses_a_table_naming_missing_wires(kernel_path):
    if kernel_path != "compiled":
        pytest.skip("checks the C module's own argument checks")
    from data_operations.kernels._network import network_median

    planes = np.zeros((3, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="network names a wire outside the planes"):
        network_median(planes, np.array([[0, 3, 1, 1]], dtype=np.int32), np.empty(10, np.float32))
    with pytest.raises(ValueError, match="out must be float32 with one value per pixel"):
        network_median(planes, np.array([[0, 1, 1, 1]], dtype=np.int32), np.empty(9, np.float32))
