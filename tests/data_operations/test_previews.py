"""zscale limits and JPEG previews: sizes, stretch, orientation."""
import numpy as np
import pytest
from astropy.visualization import ZScaleInterval
from PIL import Image

from data_operations.products import write_jpeg_previews, zscale_limits


def test_zscale_all_nan_is_default():
    assert zscale_limits(np.full((30, 40), np.nan, np.float32)) == (0.0, 1.0)


def test_zscale_of_sample_close_to_zscale_of_every_pixel():
    rng = np.random.default_rng(0)
    data = rng.normal(1000.0, 10.0, size=(300, 400)).astype(np.float32)
    data[rng.random(data.shape) < 0.01] = np.nan
    low, high = zscale_limits(data, sample_size=10_000)
    full_low, full_high = ZScaleInterval(n_samples=data.size).get_limits(data[np.isfinite(data)])
    assert isinstance(low, float) and isinstance(high, float)
    assert abs(low - full_low) < 10.0 and abs(high - full_high) < 10.0  # within one sigma
    assert 930 < low < 1000 < high < 1070


def test_previews_sizes_orientation_and_nan(tmp_path):
    data = np.full((100, 60), 10.0, dtype=np.float32)
    data[-4:, :] = 1000.0  # last FITS rows = top of the sky image
    data[:4, :] = np.nan  # first FITS rows = bottom
    large, small = tmp_path / "large.jpg", tmp_path / "small.jpg"

    write_jpeg_previews(data, large_path=large, small_path=small, large_size=50, small_size=20,
                        limits=(0.0, 1000.0))

    with Image.open(large) as image:
        assert image.format == "JPEG" and image.mode == "L"
        assert image.size == (30, 50)  # width, height: 2x2 blocks
        pixels = np.asarray(image, dtype=np.int16)
    assert pixels[:2].mean() > 240  # bright last FITS rows at the top
    assert pixels[-2:].mean() < 10  # NaN rows black at the bottom
    assert abs(pixels[20:30].mean() - 10 * 255 / 1000) < 4
    with Image.open(small) as image:
        assert max(image.size) <= 20 and image.size == (12, 20)


def test_previews_keep_small_images_and_odd_shapes(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.normal(100, 5, size=(7, 300)).astype(np.float32)
    large, small = tmp_path / "large.jpg", tmp_path / "small.jpg"
    write_jpeg_previews(data, large_path=large, small_path=small, large_size=2048, small_size=256)
    with Image.open(large) as image:
        assert image.size == (300, 7)
    with Image.open(small) as image:
        assert image.size == (150, 4)


def test_previews_from_uneven_bands_equal_previews_of_the_whole_image(tmp_path):
    """Bands of any height (not multiples of the block size) give the same JPEGs as the whole image."""
    from data_operations.products.previews import PreviewBuilder

    rng = np.random.default_rng(2)
    data = rng.normal(200, 8, size=(203, 150)).astype(np.float32)
    data[50:53, 10:90] = np.nan
    data[120, :] = np.nan
    whole_large, whole_small = tmp_path / "whole-large.jpg", tmp_path / "whole-small.jpg"
    write_jpeg_previews(data, large_path=whole_large, small_path=whole_small, large_size=60, small_size=16)

    builder = PreviewBuilder(data.shape, large_size=60, small_size=16)
    for y0, y1 in [(0, 7), (7, 8), (8, 100), (100, 131), (131, 203)]:
        builder.add_rows(y0, data[y0:y1].copy())
    banded_large, banded_small = tmp_path / "banded-large.jpg", tmp_path / "banded-small.jpg"
    builder.write(large_path=banded_large, small_path=banded_small)

    for whole, banded in ((whole_large, banded_large), (whole_small, banded_small)):
        with Image.open(whole) as expected, Image.open(banded) as got:
            assert got.size == expected.size
            difference = np.abs(np.asarray(got, np.int16) - np.asarray(expected, np.int16))
        assert difference.max() <= 1  # float sums in another order may round one level apart


def test_preview_builder_refuses_bands_out_of_order_and_missing_rows(tmp_path):
    from data_operations.products.previews import PreviewBuilder

    builder = PreviewBuilder((10, 4))
    builder.add_rows(0, np.ones((4, 4), np.float32))
    with pytest.raises(ValueError, match="expected rows from 4 of width 4"):
        builder.add_rows(5, np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="only 4 of 10 rows were given"):
        builder.write(large_path=tmp_path / "l.jpg", small_path=tmp_path / "s.jpg")


@pytest.mark.parametrize("factor", [2, 3, 16])
def test_block_averages_equal_numpy_means(factor):
    """Both paths (all finite: strided sums; with NaN or partial blocks: reduceat) against numpy."""
    from data_operations.products.previews import _average_strip

    rng = np.random.default_rng(factor)
    strip = rng.normal(500, 20, size=(4 * factor, 6 * factor)).astype(np.float32)
    out = np.empty((4, 6), np.float32)
    _average_strip(strip, factor, out)
    expected = strip.astype(np.float64).reshape(4, factor, 6, factor).mean(axis=(1, 3))
    np.testing.assert_allclose(out, expected, rtol=1e-6)

    strip[1, 1] = np.nan  # the first block now averages its finite pixels only
    partial = strip[:, : 6 * factor - 1]  # and the last block column is one pixel narrower
    _average_strip(partial, factor, out)
    first = strip[:factor, :factor].astype(np.float64)
    assert out[0, 0] == pytest.approx(np.nanmean(first), rel=1e-6)
    last = partial[:factor, 5 * factor:].astype(np.float64)
    assert out[0, 5] == pytest.approx(last.mean(), rel=1e-6)
