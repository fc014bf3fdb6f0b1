"""Synthetic frames look like LCO reduced frames and carry exact ground truth."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from datalab.local_archive.synthetic import demo_frame_plan, lco_basename, make_frame, write_frame


def test_frame_has_sci_and_cat_with_lco_headers(tmp_path):
    path = write_frame(make_frame(shape=(256, 320), seed=7, n_stars=50), tmp_path / "frame.fits.fz")
    with fits.open(path) as hdul:
        assert [hdu.name for hdu in hdul] == ["PRIMARY", "SCI", "CAT"]
        assert hdul[0].data is None
        assert isinstance(hdul["SCI"], fits.CompImageHDU)
        assert hdul["SCI"].compression_type == "RICE_1"
        science = hdul["SCI"].data
        header = hdul["SCI"].header
        catalog = hdul["CAT"].data
        assert science.shape == (256, 320) and science.dtype == np.float32
        for keyword in ("FILTER", "OBJECT", "DATE", "DATE-OBS", "MJD-OBS", "EXPTIME", "SITEID", "TELID", "INSTRUME",
                        "PROPID", "L1PUBDAT", "REQNUM", "PIXSCALE", "GAIN", "RDNOISE", "SATURATE", "L1FWHM"):
            assert keyword in header, keyword
        assert (header["RLEVEL"], header["OBSTYPE"]) == (91, "EXPOSE")
        assert catalog.columns.names == ["x", "y", "xwin", "ywin", "flux", "fluxerr", "peak", "flag",
                                         "ra", "dec", "mag", "magerr", "fwhm"]
        assert len(catalog) == 50
        assert 100.0 < float(np.median(science)) < 1000.0  # sky background


def test_wcs_puts_each_catalogued_star_at_its_pixel_position():
    hdul = make_frame(shape=(512, 512), seed=3, n_stars=40, rotation_deg=12.0)
    wcs = WCS(hdul["SCI"].header)
    catalog = hdul["CAT"].data
    x, y = wcs.all_world2pix(catalog["ra"], catalog["dec"], 1)
    assert np.max(np.abs(x - catalog["x"])) < 0.01
    assert np.max(np.abs(y - catalog["y"])) < 0.01
    pixel_scale = np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0
    assert abs(pixel_scale - hdul["SCI"].header["PIXSCALE"]) < 1e-9


def test_bright_catalogued_stars_are_in_the_pixels():
    hdul = make_frame(shape=(256, 256), seed=5, n_stars=30, cosmic_rays=False, sky_level=200.0)
    science, catalog = hdul["SCI"].data, hdul["CAT"].data
    brightest = catalog[np.argmax(catalog["peak"])]
    column, row = int(round(brightest["x"] - 1)), int(round(brightest["y"] - 1))
    assert science[row, column] > 200.0 + 0.5 * min(brightest["peak"], 50000.0)


def test_same_seed_same_frame_and_bytes(tmp_path):
    first, second = make_frame(shape=(128, 128), seed=11), make_frame(shape=(128, 128), seed=11)
    np.testing.assert_array_equal(first["SCI"].data, second["SCI"].data)
    np.testing.assert_array_equal(first["CAT"].data["flux"], second["CAT"].data["flux"])
    a = write_frame(first, tmp_path / "a.fits.fz").read_bytes()
    b = write_frame(second, tmp_path / "b.fits.fz").read_bytes()
    assert a == b
    assert not np.array_equal(make_frame(shape=(128, 128), seed=12)["SCI"].data, first["SCI"].data)


def test_a_2048_frame_is_fast():
    started = time.perf_counter()
    make_frame(shape=(2048, 2048), seed=1)
    assert time.perf_counter() - started < 2.0


def test_demo_plan_basenames_are_lco_like_and_unique():
    plan = demo_frame_plan(night=datetime(2026, 11, 30, tzinfo=timezone.utc), seed=1)
    basenames = {lco_basename(site_id=p["site_id"], instrument_id=p["instrument_id"],
                              observation_date=p["observation_date"], frame_number=p["frame_number"])
                 for p in plan}
    assert len(basenames) == len(plan) == 36
    assert "elp1m011-fa05-20261130-0040-e91" in basenames
    assert {p["filter_name"] for p in plan} == {"rp", "V", "B", "gp"}
    assert {p["proposal_id"] for p in plan} == {"LCOEPO2026B-001", "LCO2026B-012"}
