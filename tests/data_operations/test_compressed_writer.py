"""The band-wise GZIP_2 writer: bit-exact, standard layout, valid checksums."""
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from data_operations.products.compressed_writer import CompressedImageWriter, encode_checksum


def test_round_trip_in_bands_is_bit_exact_with_valid_checksums(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.normal(500.0, 30.0, size=(70, 45)).astype(np.float32)
    image[3, 4], image[5, 6], image[7, 8] = np.nan, np.inf, -0.0
    path = tmp_path / "out.fits"
    with CompressedImageWriter(path, image.shape, fits.Header([("FILTER", "rp")]), threads=2) as writer:
        for y0 in range(0, 70, 16):
            writer.write_rows(y0, image[y0:y0 + 16])
        writer.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(path, checksum=True) as hdul:
            assert [hdu.name for hdu in hdul] == ["PRIMARY", "SCI"]
            assert isinstance(hdul["SCI"], fits.CompImageHDU)
            assert hdul["SCI"].header["FILTER"] == "rp"
            data = hdul["SCI"].data
    assert data.dtype == np.float32
    assert data.tobytes() == image.astype(np.float32).tobytes()  # NaN, inf and -0.0 included
    with fits.open(path, disable_image_compression=True) as raw:
        assert raw[1].header["ZCMPTYPE"] == "GZIP_2" and raw[1].header["ZTILE2"] == 1


def test_checksum_encoding_matches_astropy(tmp_path):
    hdu = fits.BinTableHDU.from_columns([fits.Column(name="a", format="J", array=np.arange(7))])
    hdu.writeto(tmp_path / "t.fits", checksum=True)
    with fits.open(tmp_path / "t.fits") as hdul:
        header = hdul[1].header
        expected = header["CHECKSUM"]
        raw = hdul[1]._header.tostring().replace(expected, "0" * 16).encode("ascii")
    from data_operations.products.compressed_writer import ones_complement_sum

    total = ones_complement_sum(raw, int(header["DATASUM"]))
    assert encode_checksum(~total & 0xFFFFFFFF) == expected


def test_corrupted_file_fails_checksum(tmp_path):
    path = tmp_path / "out.fits"
    with CompressedImageWriter(path, (4, 5), fits.Header()) as writer:
        writer.write_rows(0, np.arange(20, dtype=np.float32).reshape(4, 5))
        writer.close()
    content = bytearray(path.read_bytes())
    assert len(content) == 3 * 2880  # primary, SCI header, SCI data (4 descriptors + heap)
    content[2 * 2880 + 40] ^= 0xFF  # a heap byte of the SCI table
    path.write_bytes(bytes(content))
    with pytest.warns(AstropyUserWarning, match="[Cc]hecksum"):
        with fits.open(path, checksum=True) as hdul:
            hdul["SCI"].header  # noqa: B018


def test_rows_must_arrive_in_order_and_all_of_them(tmp_path):
    writer = CompressedImageWriter(tmp_path / "x.fits", (4, 3), fits.Header())
    with pytest.raises(ValueError):
        writer.write_rows(2, np.zeros((2, 3), np.float32))
    writer.write_rows(0, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError):
        writer.close()
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_reserved_keyword_gets_its_final_value_at_close(tmp_path):
    image = np.arange(12 * 10, dtype=np.float32).reshape(12, 10)
    path = tmp_path / "counted.fits"
    header = fits.Header([("DLNONFIN", 0, "Infinite samples treated as missing")])
    with CompressedImageWriter(path, image.shape, header, threads=1) as writer:
        writer.write_rows(0, image)
        writer.close(header_updates={"DLNONFIN": 123456})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checksum mismatch would warn
        with fits.open(path, checksum=True) as hdul:
            assert hdul["SCI"].header["DLNONFIN"] == 123456
            assert hdul["SCI"].header.comments["DLNONFIN"] == "Infinite samples treated as missing"
            np.testing.assert_array_equal(hdul["SCI"].data, image)


def test_an_unreserved_keyword_cannot_be_set_at_close(tmp_path):
    path = tmp_path / "unreserved.fits"
    with pytest.raises(KeyError):
        with CompressedImageWriter(path, (2, 2), fits.Header(), threads=1) as writer:
            writer.write_rows(0, np.zeros((2, 2), np.float32))
            writer.close(header_updates={"DLNONFIN": 1})
    assert not path.exists()
