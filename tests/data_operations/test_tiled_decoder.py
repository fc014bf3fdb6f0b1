"""The tile decoder gives exactly the pixels astropy decodes, for every layout it accepts.

Every test runs on the C decoder and on the fallback (astropy's codec and numpy), which must give
the same bits (the ``kernel_path`` fixture).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from data_operations.frames import tiled
from data_operations.frames.tiled import TiledImage, dither_sequence, dither_values
from data_operations.products import write_output_fits

pytestmark = pytest.mark.usefixtures("kernel_path")


def _noisy(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(500.0, 12.0, size=shape).astype(np.float32)
    data[shape[0] // 2, : shape[1] // 3] = np.nan  # a run of missing pixels inside one tile
    data[-1, -1] = np.nan
    data[1, 2] = 0.0
    return data


def _write(path: Path, data: np.ndarray, **options) -> Path:
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, name="SCI", **options)]).writeto(path)
    return path


def _layout(path: Path, index: int = 1) -> TiledImage | None:
    with fits.open(path) as hdul:
        info = hdul.fileinfo(index)
    return TiledImage.open(path, info["hdrLoc"], info["datLoc"])


def _astropy_rows(path: Path, y0: int, y1: int, nx: int) -> np.ndarray:
    with fits.open(path) as hdul:
        return np.asarray(hdul[1].section[y0:y1, 0:nx], dtype=np.float32)


def _assert_rows_match(path: Path, y0: int, y1: int, nx: int) -> None:
    layout = _layout(path)
    assert layout is not None
    got = np.full((y1 - y0, nx), -1.0, dtype=np.float32)
    layout.read_rows(y0, y1, got)
    np.testing.assert_array_equal(got, _astropy_rows(path, y0, y1, nx))  # NaN == NaN here, bit for bit


LAYOUTS = {
    "rice no dither": {"compression_type": "RICE_1"},
    "rice dither 1": {"compression_type": "RICE_1", "quantize_method": 1, "dither_seed": 7},
    "rice dither 1, 3-row tiles": {"compression_type": "RICE_1", "quantize_method": 1, "dither_seed": 9998,
                                   "tile_shape": (3, 70)},
    "rice dither 2": {"compression_type": "RICE_1", "quantize_method": 2, "dither_seed": 123},
    "rice quantize level 4": {"compression_type": "RICE_1", "quantize_level": 4.0, "quantize_method": 1},
    "gzip_2 lossless": {"compression_type": "GZIP_2", "quantize_level": 0.0},
    "gzip_1 lossless": {"compression_type": "GZIP_1", "quantize_level": 0.0},
    "gzip_2 quantised": {"compression_type": "GZIP_2", "quantize_method": 1},
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_bands_equal_astropy(tmp_path, name):
    path = _write(tmp_path / "frame.fits", _noisy((41, 70)), **LAYOUTS[name])
    for y0, y1 in [(0, 41), (0, 1), (5, 17), (20, 21), (39, 41)]:
        _assert_rows_match(path, y0, y1, 70)
    _assert_rows_match(path, 3, 30, 52)  # the common region of a wider frame: leading columns only


def test_tiles_longer_than_the_dither_sequence_wrap_as_the_convention_says(tmp_path):
    """A 9800-pixel tile starting near entry 500 runs past the end of the 10 000 random values."""
    path = _write(tmp_path / "wide.fits", _noisy((6, 9800), seed=3), compression_type="RICE_1",
                  quantize_method=1, dither_seed=4)
    _assert_rows_match(path, 0, 6, 9800)


def test_tiles_that_would_not_quantise_are_read_from_the_lossless_column(tmp_path):
    data = _noisy((12, 64))
    data[4] = 42.0  # a constant row does not quantise; astropy stores it gzipped instead
    path = _write(tmp_path / "constant.fits", data, compression_type="RICE_1", quantize_method=1)
    with fits.open(path, disable_image_compression=True) as hdul:
        lengths = [len(tile) for tile in hdul[1].data["COMPRESSED_DATA"]]
    assert lengths[4] == 0 and all(lengths[row] > 0 for row in range(12) if row != 4)
    _assert_rows_match(path, 0, 12, 64)
    _assert_rows_match(path, 4, 5, 64)


def test_flat_runs_and_huge_jumps_take_every_kind_of_rice_block(tmp_path):
    """Flat stretches make all-zero blocks, wild values raw 32-bit blocks, lone spikes long unary runs."""
    rng = np.random.default_rng(11)
    data = rng.normal(100.0, 2.0, size=(24, 256)).astype(np.float32)
    data[2:6, 40:120] = 100.0  # whole 32-pixel blocks of one value
    data[8:12] = rng.uniform(-1e7, 1e7, size=(4, 256)).astype(np.float32)
    data[14:18, ::37] = 5e5  # rare spikes in quiet sky
    data[20, 3] = -3e6
    path = _write(tmp_path / "blocks.fits", data, compression_type="RICE_1", quantize_method=1, quantize_level=16.0)
    _assert_rows_match(path, 0, 24, 256)


def _rice_tile(tmp_path: Path) -> tuple[TiledImage, bytes]:
    path = _write(tmp_path / "one.fits", _noisy((4, 300), seed=2), compression_type="RICE_1", quantize_method=1)
    layout = _layout(path)
    with open(path, "rb") as handle:
        handle.seek(layout.heap_start + int(layout.descriptors[0, 1]))
        return layout, handle.read(int(layout.descriptors[0, 0]))


def _decode_one_tile(layout: TiledImage, data: bytes, tmp_path: Path) -> np.ndarray:
    """Decode ``data`` as tile 0 of ``layout`` through the decoder's own read path."""
    heap = tmp_path / "heap.bin"
    heap.write_bytes(data)
    descriptors = np.zeros_like(layout.descriptors)
    descriptors[0] = (len(data), 0)
    one_tile = dataclasses.replace(layout, path=heap, heap_start=0, descriptors=descriptors)
    out = np.empty((1, 300), dtype=np.float32)
    one_tile.read_rows(0, 1, out)
    return out


def test_a_truncated_rice_tile_is_an_error_not_garbage(tmp_path):
    layout, tile = _rice_tile(tmp_path)
    np.testing.assert_array_equal(_decode_one_tile(layout, tile, tmp_path), _astropy_rows(layout.path, 0, 1, 300))
    for cut in (3, 4, 10, len(tile) // 2, len(tile) - 1):  # (length 0 marks a tile stored elsewhere)
        with pytest.raises(ValueError, match="tile 0 holds malformed Rice-compressed data"):
            _decode_one_tile(layout, tile[:cut], tmp_path)


def test_random_bytes_never_crash_the_rice_decoder(tmp_path):
    layout, tile = _rice_tile(tmp_path)
    rng = np.random.default_rng(5)
    for trial in range(300):
        data = bytearray(tile)
        if trial % 2:
            data = bytearray(rng.integers(0, 256, size=int(rng.integers(1, 2 * len(tile))), dtype=np.uint8))
        else:
            for position in rng.integers(0, len(data), size=4):
                data[position] ^= 1 << int(rng.integers(0, 8))
        try:
            _decode_one_tile(layout, bytes(data), tmp_path)
        except ValueError as error:
            assert "malformed Rice-compressed data" in str(error)


def test_our_own_products_decode_exactly(tmp_path):
    data = _noisy((33, 50), seed=5)
    path = tmp_path / "product.fits"
    write_output_fits(path, data, fits.Header(), provenance={})
    layout = _layout(path)
    got = np.empty((33, 50), dtype=np.float32)
    layout.read_rows(0, 33, got)
    np.testing.assert_array_equal(got, data)


@pytest.mark.parametrize("options", [
    {"compression_type": "HCOMPRESS_1"},
    {"compression_type": "RICE_1", "tile_shape": (8, 8)},  # tiles that do not span whole rows
])
def test_layouts_not_handled_are_left_to_astropy(tmp_path, options):
    path = _write(tmp_path / "other.fits", _noisy((16, 16)), **options)
    assert _layout(path) is None


def test_images_that_are_not_float32_are_left_to_astropy(tmp_path):
    path = _write(tmp_path / "ints.fits", np.arange(64, dtype=np.int32).reshape(8, 8), compression_type="RICE_1")
    assert _layout(path) is None


def test_dither_sequence_is_the_conventions():
    sequence = dither_sequence()
    assert sequence.dtype == np.float32 and len(sequence) == 10_000
    # The first value of the Park-Miller generator from seed 1: 16807 / (2^31 - 1).
    assert sequence[0] == np.float32(16807 / 2147483647)
    first = dither_values(0, 1, 10, dither_seed=1)[0]
    start = int(sequence[0] * 500)
    np.testing.assert_array_equal(first, sequence[start:start + 10].astype(np.float64))


def test_without_a_rice_codec_rice_layouts_go_to_astropys_public_section(tmp_path, monkeypatch, kernel_path):
    """An astropy whose private codec is not the checked one: Rice files are left to ``section``."""
    monkeypatch.setattr(tiled, "rice_decoder", lambda: None)
    path = _write(tmp_path / "frame.fits", _noisy((12, 40)), **LAYOUTS["rice dither 1"])
    layout = _layout(path)
    if kernel_path == "compiled":  # quantised Rice needs no astropy codec with the C decoder
        assert layout is not None
    else:
        assert layout is None
    gzip = _write(tmp_path / "gzip.fits", _noisy((12, 40)), **LAYOUTS["gzip_2 lossless"])
    assert _layout(gzip) is not None


@pytest.mark.parametrize(("version", "checked"), [("8.0.2", True), ("6.1.0", True), ("7.1.dev12+g3", True),
                                                   ("6.0.1", False), ("9.0.0", False), ("10.2", False)])
def test_astropys_private_codec_is_used_only_from_checked_versions(version, checked):
    from data_operations.frames.astropy_codec import version_is_checked

    assert version_is_checked(version) is checked


def test_astropy_rice_codec_is_never_handed_a_tile_too_short_for_its_pixels(monkeypatch):
    """astropy's decoder reads past a short tile inside a block; such a tile is refused before it runs."""
    from astropy.io.fits.hdu.compressed._compression import compress_rice_1_c

    from data_operations.frames import astropy_codec

    constant = np.full(4096, 7, dtype=np.int32)
    whole = compress_rice_1_c(constant.tobytes(), 32, 4)
    assert len(whole) == 4 + 128 * 5 // 8  # the shortest stream: the first pixel and one 5-bit code per block
    decode = astropy_codec.rice_decoder()
    np.testing.assert_array_equal(np.frombuffer(decode(whole, 32, 4, 4096), dtype=np.int32), constant)
    calls = []
    monkeypatch.setattr(astropy_codec.importlib.import_module(astropy_codec._PRIVATE_MODULE), "decompress_rice_1_c",
                        lambda *args: calls.append(args))
    astropy_codec.rice_decoder.cache_clear()
    try:
        with pytest.raises(ValueError, match="^the tile ends before its last pixel.$"):
            astropy_codec.rice_decoder()(whole[:-1], 32, 4, 4096)
    finally:
        astropy_codec.rice_decoder.cache_clear()
    assert calls == []
