"""FrameStack: finding the science image, cropping to the common region, banded reads, clear errors."""
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from malformed_frames import MALFORMED, good_rice_frame

from data_operations.errors import OperationError
from data_operations.frames import FrameStack, band_rows_for_budget
from data_operations.frames.single import read_image


def assemble(stack: FrameStack, rows_per_band: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Concatenate the bands back into full (N, ny, nx) arrays, recording band limits."""
    ny, nx = stack.shape
    full = np.empty((stack.count, ny, nx), dtype=np.float32)
    limits = []
    for y0, y1, band in stack.bands(rows_per_band):
        assert band.dtype == np.float32 and band.flags.c_contiguous
        full[:, y0:y1] = band
        limits.append((y0, y1))
    return full, limits


def test_bands_cover_common_region_of_different_shapes(write_frame, read_sci):
    rng = np.random.default_rng(0)
    big = write_frame("big", rng.normal(500, 30, size=(64, 80)).astype(np.float32))
    small = write_frame("small", rng.normal(500, 30, size=(50, 70)).astype(np.float32))

    with FrameStack([big, small], ["big", "small"]) as stack:
        assert stack.shape == (50, 70)
        assert stack.cropped
        assert [frame.shape for frame in stack.frames] == [(64, 80), (50, 70)]
        full, limits = assemble(stack, rows_per_band=7)

    assert limits[0] == (0, 7) and limits[-1] == (49, 50) and len(limits) == 8
    np.testing.assert_array_equal(full[0], read_sci(big)[:50, :70])
    np.testing.assert_array_equal(full[1], read_sci(small))


def test_bands_reuse_one_buffer(write_frame):
    data = np.arange(64 * 80, dtype=np.float32).reshape(64, 80)
    paths = [write_frame(f"f{i}", data, compressed=False) for i in range(3)]
    with FrameStack(paths) as stack:
        assert not stack.cropped
        addresses = {band.__array_interface__["data"][0] for _, _, band in stack.bands(10)}
    assert len(addresses) == 1


def test_integer_and_scaled_data_become_float32(tmp_path):
    raw = np.arange(12 * 10, dtype=np.int16).reshape(12, 10)
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BSCALE"] = 2.0
    hdu.header["BZERO"] = 1000.0
    path = tmp_path / "scaled.fits"
    hdu.writeto(path)
    unsigned = tmp_path / "unsigned.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(np.full((12, 10), 65000, np.uint16), name="SCI")]
                 ).writeto(unsigned)

    with FrameStack([path, unsigned]) as stack:
        full, _ = assemble(stack, rows_per_band=5)

    np.testing.assert_array_equal(full[0], raw.astype(np.float32) * 2 + 1000)
    np.testing.assert_array_equal(full[1], 65000.0)


def test_without_sci_the_first_2d_image_is_the_science_image(tmp_path):
    path = tmp_path / "nosci.fits"
    image = np.arange(20, dtype=np.float32).reshape(4, 5)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros(3), name="ONE-D"), fits.ImageHDU(image, name="OTHER"),
                  fits.ImageHDU(image + 1, name="LATER")]).writeto(path)
    with FrameStack([path], ["frame-a"]) as stack:
        full, _ = assemble(stack, rows_per_band=3)
    np.testing.assert_array_equal(full[0], image)


def test_sci_by_name_wins_over_an_earlier_image(tmp_path):
    path = tmp_path / "both.fits"
    first, science = np.zeros((4, 5), np.float32), np.full((4, 5), 3.0, np.float32)
    fits.HDUList([fits.PrimaryHDU(first), fits.ImageHDU(science, name="SCI")]).writeto(path)
    image, info = read_image(path, "frame-s")
    np.testing.assert_array_equal(image, science)
    assert info.display_name == "frame-s"


def test_fpack_file_without_extname_is_read(tmp_path, read_sci, kernel_path):
    path = good_rice_frame(tmp_path / "plain.fits.fz", extname=None)
    with fits.open(path) as hdul:
        assert [hdu.name for hdu in hdul] == ["PRIMARY", "COMPRESSED_IMAGE"]
        expected = np.asarray(hdul[1].data, dtype=np.float32)
    image, _ = read_image(path, "plain")
    np.testing.assert_array_equal(image, expected)


def test_a_file_with_no_2d_image_is_refused(tmp_path):
    path = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("A", "E", array=[1.0])])]
                 ).writeto(path)
    with pytest.raises(OperationError) as caught:
        FrameStack([path], ["frame-a"])
    assert str(caught.value) == "Frame frame-a has no 2-D image data."


@pytest.mark.parametrize("damage", list(MALFORMED))
def test_malformed_compressed_frames_are_refused_with_a_sentence(tmp_path, damage, kernel_path):
    make_bad, message = MALFORMED[damage]
    path = make_bad(good_rice_frame(tmp_path / "bad.fits.fz"))
    with pytest.raises(OperationError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_image(path, "bad-frame")
    assert str(caught.value) == f"Frame bad-frame {message}"


def test_infinite_pixels_are_read_as_nan_and_counted(tmp_path, kernel_path):
    data = np.arange(40 * 30, dtype=np.float32).reshape(40, 30)
    data[3, 4] = np.inf
    data[20, 0] = -np.inf
    data[39, 29] = np.inf
    data[7, 7] = np.nan
    plain = tmp_path / "inf.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, name="SCI")]).writeto(plain)
    packed = tmp_path / "inf.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, name="SCI", compression_type="GZIP_2",
                                                       quantize_level=0.0)]).writeto(packed)
    clean = tmp_path / "clean.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones_like(data), name="SCI")]).writeto(clean)
    expected = np.where(np.isinf(data), np.float32(np.nan), data)
    with FrameStack([plain, packed, clean]) as stack:
        full, _ = assemble(stack, rows_per_band=6)
        assert stack.infinite_counts == [3, 3, 0]
    np.testing.assert_array_equal(full[0], expected)
    np.testing.assert_array_equal(full[1], expected)
    image, info = read_image(packed)
    np.testing.assert_array_equal(image, expected)
    assert info.infinite_count == 3


def test_sci_without_2d_image_data(tmp_path):
    path = tmp_path / "cube.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 4, 4)), name="SCI")]).writeto(path)
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU().writeto(empty)
    for target in (path, empty):
        with pytest.raises(OperationError) as caught:
            FrameStack([target], ["frame-b"])
        assert str(caught.value) == "Frame frame-b has no 2-D image data."


def truncated_copies(path: Path) -> dict[str, bytes]:
    """Copies of a compressed frame cut inside the SCI header, mid-data and just before the end."""
    payload = path.read_bytes()
    data_end = len(payload.rstrip(b"\0"))  # the trailing padding block is zeros
    return {
        "in-header": payload[:4000],
        "mid-data": payload[: (5760 + data_end) // 2],
        "last-bytes": payload[: data_end - 10],
    }


@pytest.mark.parametrize("cut", ["in-header", "mid-data", "last-bytes"])
def test_truncated_file_is_refused_at_open(write_frame, cut):
    rng = np.random.default_rng(1)
    good = write_frame("good", rng.normal(500, 30, size=(64, 80)).astype(np.float32))
    truncated = good.with_name("truncated.fits.fz")
    truncated.write_bytes(truncated_copies(good)[cut])
    with pytest.raises(OperationError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's own "may have been truncated" warnings
        FrameStack([good, truncated], ["good", "truncated"])
    assert str(caught.value) == "Frame truncated is not a readable FITS file (truncated or corrupt)."


def test_missing_final_padding_is_tolerated(write_frame, read_sci):
    rng = np.random.default_rng(2)
    good = write_frame("good", rng.normal(500, 30, size=(64, 80)).astype(np.float32))
    unpadded = good.with_name("unpadded.fits.fz")
    unpadded.write_bytes(good.read_bytes().rstrip(b"\0"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with FrameStack([unpadded]) as stack:
            full, _ = assemble(stack, rows_per_band=9)
    np.testing.assert_array_equal(full[0], read_sci(good))


@pytest.mark.parametrize("content", [b"", b"not a fits file" * 300])
def test_garbage_file_is_refused(tmp_path, content):
    path = Path(tmp_path / "junk.fits")
    path.write_bytes(content)
    with pytest.raises(OperationError, match=r"^Frame junk is not a readable FITS file"):
        FrameStack([path], ["junk"])


def test_band_rows_formula():
    # budget // (frames * width * 4 bytes * 3 buffers: the band combined, two decoded ahead), never below one row
    assert band_rows_for_budget(10 * 4096 * 4 * 3 * 512, 10, 4096) == 512
    assert band_rows_for_budget(10 * 4096 * 4 * 3 * 512 - 1, 10, 4096) == 511
    assert band_rows_for_budget(1, 10, 4096) == 1
    assert band_rows_for_budget(-5, 3, 10) == 1
