"""FrameStack: finding SCI, cropping to the common region, banded reads, clear errors."""
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.frames import FrameStack, band_rows_for_budget


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


def test_missing_sci_extension_is_named(tmp_path):
    path = tmp_path / "nosci.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 4)), name="OTHER")]).writeto(path)
    with pytest.raises(OperationError) as caught:
        FrameStack([path], ["frame-a"])
    assert str(caught.value) == "Frame frame-a has no SCI extension."


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
