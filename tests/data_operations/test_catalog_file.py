"""The lean reader of a frame's headers and CAT table agrees with astropy and refuses damaged files."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.framework.tables import open_catalog_frame


def catalogue() -> fits.BinTableHDU:
    rng = np.random.default_rng(5)
    return fits.BinTableHDU.from_columns([
        fits.Column(name="ra", format="D", array=rng.uniform(0, 360, 40)),
        fits.Column(name="mag", format="E", array=rng.uniform(10, 20, 40)),
        fits.Column(name="flag", format="I", array=rng.integers(0, 4, 40)),
        fits.Column(name="id", format="J", array=np.arange(40)),
        fits.Column(name="name", format="10A", array=[f"s{i}" for i in range(40)]),
    ], name="CAT")


@pytest.mark.parametrize("compressed", [True, False])
def test_headers_and_catalogue_match_astropy(tmp_path, compressed):
    data = np.random.default_rng(1).normal(100, 5, (30, 50)).astype(np.float32)
    header = fits.Header({"EXPTIME": 30.0, "DATE-OBS": "2026-11-01T03:00:00", "CTYPE1": "RA---TAN"})
    sci = fits.CompImageHDU(data, header=header, name="SCI") if compressed else fits.ImageHDU(data, header, name="SCI")
    path = tmp_path / "frame.fits"
    fits.HDUList([fits.PrimaryHDU(), sci, catalogue(), fits.ImageHDU(np.zeros((30, 50), np.uint8), name="BPM")]
                 ).writeto(path)

    frame = open_catalog_frame(path, "frame")

    with fits.open(path) as hdul:
        expected_header, table = hdul["SCI"].header, hdul["CAT"].data
        assert frame.shape == (30, 50)
        assert {key: frame.header[key] for key in expected_header if key not in ("", "COMMENT", "HISTORY")} == \
            {key: expected_header[key] for key in expected_header if key not in ("", "COMMENT", "HISTORY")}
        for name in ("ra", "mag", "flag", "id"):
            np.testing.assert_array_equal(frame.catalog[name], table[name])
            assert frame.catalog[name].dtype.isnative
        assert list(frame.catalog["name"]) == list(table["name"])


def test_damaged_files_are_refused_with_a_sentence(tmp_path):
    path = tmp_path / "cut.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((64, 64), np.float32), name="SCI"), catalogue()]
                 ).writeto(path)
    whole = path.read_bytes()
    path.write_bytes(whole[:2880 * 3])
    with pytest.raises(OperationError) as refused:
        open_catalog_frame(path, "cut")
    assert str(refused.value) == "Frame cut is not a readable FITS file (truncated or corrupt)."

    no_science = tmp_path / "nosci.fits"
    fits.HDUList([fits.PrimaryHDU(), catalogue()]).writeto(no_science)
    with pytest.raises(OperationError) as refused:
        open_catalog_frame(no_science, "nosci")
    assert str(refused.value) == "Frame nosci has no 2-D image data."

    unnamed = tmp_path / "unnamed.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(np.ones((6, 9), np.float32)), catalogue()]).writeto(unnamed)
    assert open_catalog_frame(unnamed, "unnamed").shape == (6, 9)

    image_cat = tmp_path / "imagecat.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4), np.float32), name="SCI"),
                  fits.ImageHDU(np.ones((4, 4), np.float32), name="CAT")]).writeto(image_cat)
    with pytest.raises(OperationError) as refused:
        open_catalog_frame(image_cat, "imagecat")
    assert str(refused.value) == "Frame imagecat has a CAT extension that is not a table."
