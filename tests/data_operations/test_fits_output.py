"""write_output_fits: lossless round trip, layout, provenance; header helpers."""
import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from data_operations.products import (
    agreed_value,
    build_output_header,
    shared_metadata,
    write_output_fits,
)

PROVENANCE = {
    "operation": "Median",
    "operation_id": 7,
    "software_version": "1.2.3",
    "parameters": {"sigma": 3.0, "note": "caf\u00e9"},
    "inputs": ["coj1m011-fa12-20261101-0001-e91", "coj1m011-fa12-20261101-0002-e91"],
}


def test_float32_round_trip_is_exact_including_nan_and_inf(tmp_path):
    rng = np.random.default_rng(0)
    data = (rng.normal(0, 1, size=(64, 80)) * 10.0 ** rng.integers(-30, 30, size=(64, 80))).astype(np.float32)
    data[3, 4] = np.nan
    data[5, :] = np.nan
    data[6, 7], data[8, 9] = np.inf, -np.inf
    path = tmp_path / "out.fits"

    write_output_fits(path, data, fits.Header(), provenance={})

    with fits.open(path, checksum=True) as hdul:
        assert len(hdul) == 2
        assert hdul[0].data is None
        assert isinstance(hdul[1], fits.CompImageHDU) and hdul[1].name == "SCI"
        assert hdul[1].data.dtype == np.float32
        np.testing.assert_array_equal(hdul[1].data, data)  # NaNs compare equal by position
        assert hdul[1].data.tobytes() == data.tobytes()  # bit for bit


def test_writes_atomically_without_leftovers(tmp_path):
    path = tmp_path / "out.fits"
    path.write_bytes(b"old")
    write_output_fits(path, np.ones((4, 5), np.float32), fits.Header(), provenance={})
    assert [p.name for p in tmp_path.iterdir()] == ["out.fits"]
    assert fits.getdata(path, "SCI").shape == (4, 5)


def test_provenance_keywords_and_history(tmp_path):
    path = tmp_path / "out.fits"
    write_output_fits(path, np.zeros((4, 5), np.float32), fits.Header(), provenance=PROVENANCE)

    header = fits.getheader(path, "SCI")
    assert header["DLOPER"] == "Median"
    assert header["DLOPID"] == 7
    assert header["DLVERS"] == "1.2.3"
    assert header["DLNIN"] == 2
    assert header["DLIN0001"] == "coj1m011-fa12-20261101-0001-e91"
    assert header["DLIN0002"] == "coj1m011-fa12-20261101-0002-e91"
    history = " ".join(str(line) for line in header["HISTORY"])
    assert "Datalab parameters:" in history and '"sigma": 3.0' in history
    for card in header.cards:
        card.verify("exception")
        assert str(card.value).isascii()


def test_long_values_go_to_history(tmp_path):
    long_name = "x" * 100
    path = tmp_path / "out.fits"
    provenance = {"operation": "Median", "inputs": [long_name], "parameters": {"k": "v" * 200}}
    write_output_fits(path, np.zeros((2, 2), np.float32), fits.Header(), provenance=provenance)
    header = fits.getheader(path, "SCI")
    assert "DLIN0001" not in header
    assert "CONTINUE" not in header
    history = "".join(str(line) for line in header["HISTORY"])
    assert long_name in history
    assert json.dumps({"k": "v" * 200}) in history


def test_build_output_header_copies_wcs_and_common_keywords():
    source = WCS(naxis=2)
    source.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    source.wcs.crval = [10.0, 20.0]
    source.wcs.crpix = [40.5, 32.5]
    source.wcs.cd = [[-1e-4, 0.0], [0.0, 1e-4]]
    header = source.to_header()
    header["FILTER"] = "rp"
    header["OBJECT"] = "M51"
    header["EXPTIME"] = 60.0
    header["GAIN"] = 1.5
    header["BZERO"] = 32768

    built = build_output_header(header)

    assert built["FILTER"] == "rp" and built["OBJECT"] == "M51" and built["EXPTIME"] == 60.0
    assert "GAIN" not in built and "BZERO" not in built
    assert WCS(built).wcs.compare(WCS(header).wcs)


def test_shared_metadata_only_when_all_agree():
    headers = [fits.Header({"FILTER": "rp", "OBJECT": "M51"}),
               fits.Header({"FILTER": "rp", "OBJECT": "M101"})]
    assert shared_metadata(headers) == {"filter": "rp"}
    assert agreed_value(headers, "OBJECT") is None
    assert agreed_value([fits.Header({"FILTER": "rp"}), fits.Header()], "FILTER") is None


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2)])
def test_rejects_non_image_data(tmp_path, shape):
    with pytest.raises(ValueError):
        write_output_fits(tmp_path / "x.fits", np.zeros(shape, np.float32), fits.Header(), provenance={})
