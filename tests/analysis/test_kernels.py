"""The pixel maths on synthetic arrays, against independent numpy computations."""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits

from data_operations.analysis.catalog import sources_from_table
from data_operations.analysis.centroid import recentre
from data_operations.analysis.geometry import DisplayGeometry
from data_operations.analysis.profile import sample_line
from data_operations.analysis.resample import area_average
from data_operations.analysis.sky import celestial_wcs, wcs_summary
from datalab.local_archive.synthetic import make_frame, render_stars


def brute_area_average(data: np.ndarray, rows_out: int, columns_out: int) -> np.ndarray:
    """Loop over every output cell and every input pixel, weighting by the overlapping area."""
    rows_in, columns_in = data.shape
    result = np.zeros((rows_out, columns_out))
    for k in range(rows_out):
        for m in range(columns_out):
            r0, r1 = k * rows_in / rows_out, (k + 1) * rows_in / rows_out
            c0, c1 = m * columns_in / columns_out, (m + 1) * columns_in / columns_out
            total = area = 0.0
            for i in range(math.floor(r0), math.ceil(r1)):
                for j in range(math.floor(c0), math.ceil(c1)):
                    overlap = (min(r1, i + 1) - max(r0, i)) * (min(c1, j + 1) - max(c0, j))
                    if overlap > 0 and np.isfinite(data[i, j]):
                        total += overlap * data[i, j]
                        area += overlap
            result[k, m] = total / area if area else np.nan
    return result


def test_area_average_equals_block_mean_when_divisible():
    data = np.random.default_rng(1).normal(300, 20, size=(60, 80)).astype(np.float32)
    expected = data.astype(np.float64).reshape(15, 4, 20, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(area_average(data, (15, 20)), expected, rtol=1e-6)


def test_area_average_weights_partial_pixels_and_skips_nans():
    data = np.random.default_rng(2).normal(50, 5, size=(23, 17)).astype(np.float32)
    data[3:6, 4:9] = np.nan
    np.testing.assert_allclose(area_average(data, (7, 5)), brute_area_average(data, 7, 5), rtol=1e-5)


def test_area_average_of_whole_blocks_skips_nans_across_strips():
    # 600 rows of blocks 3 high span several strips; blocks are 3 x 2 with NaN and infinite pixels.
    data = np.random.default_rng(3).normal(800, 40, size=(600, 40)).astype(np.float32)
    data[250:262, 5:11] = np.nan
    data[7, 3] = np.inf
    blocks = data.astype(np.float64).reshape(200, 3, 20, 2)
    finite = np.isfinite(blocks)
    counts = finite.sum(axis=(1, 3))
    with np.errstate(invalid="ignore"):
        expected = np.where(finite, blocks, 0.0).sum(axis=(1, 3)) / counts
    expected[counts == 0] = np.nan
    result = area_average(data, (200, 20))
    assert np.isnan(result).sum() == (counts == 0).sum() > 0
    np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_area_average_of_an_all_nan_block_is_nan():
    data = np.ones((8, 8), dtype=np.float32)
    data[:4, :4] = np.nan
    result = area_average(data, (2, 2))
    assert np.isnan(result[0, 0]) and np.all(result.ravel()[1:] == 1.0)


def test_sample_line_interpolates_bilinearly():
    data = np.arange(20 * 30, dtype=np.float64).reshape(20, 30)  # value = 30 * row + column
    values = sample_line(data, (2.0, 3.5), (12.0, 3.5))
    np.testing.assert_allclose(values, 30 * 3.5 + np.linspace(2.0, 12.0, 11))


def test_display_geometry_round_trips_and_puts_y_up():
    geometry = DisplayGeometry(width=256, height=192, columns=128, rows=96)
    assert geometry.to_pixel(0.0, 0.0) == (-0.5, -0.5)  # bottom-left corner of the first pixel
    assert geometry.to_display(*geometry.to_pixel(81.6, 142.2)) == pytest.approx((81.6, 142.2))


@pytest.mark.parametrize("plane, reject", [(False, False), (True, False), (False, True), (True, True)])
def test_recentre_finds_an_injected_star_within_a_tenth_of_a_pixel(plane, reject):
    rng = np.random.default_rng(5)
    rows, columns = np.mgrid[0:80, 0:80]
    data = 300.0 + 0.8 * columns - 0.5 * rows + rng.normal(0, 5, size=(80, 80))
    render_stars(data, x=np.array([33.37, 52.0]), y=np.array([41.81, 52.0]), flux=np.array([40000.0, 90000.0]),
                 fwhm_pixels=3.0)
    result = recentre(data, column=35.0, row=40.0, radius=6, inner=9, outer=16, plane_background=plane,
                      reject_stars=reject)
    assert result.success
    assert math.hypot(result.column - 33.37, result.row - 41.81) < 0.1
    if plane:
        expected_background = 300.0 + 0.8 * result.column - 0.5 * result.row
        assert result.background == pytest.approx(expected_background, abs=2.0)


def test_recentre_reports_no_star_on_blank_sky():
    data = 100.0 + np.random.default_rng(9).normal(0, 3, size=(60, 60))
    result = recentre(data, column=30, row=30, radius=5, inner=8, outer=14)
    assert not result.success
    assert result.message == "No star found within 5 pixels of the position."


def test_wcs_summary_round_trips_the_header():
    written = make_frame(shape=(40, 50), n_stars=3, rotation_deg=20.0)["SCI"].header
    header = fits.Header.fromstring(written.tostring())  # as read back from a file
    summary = wcs_summary(header, (40, 50))
    assert summary == {
        "crval": [header["CRVAL1"], header["CRVAL2"]],
        "crpix": [header["CRPIX1"], header["CRPIX2"]],
        "cd1": [header["CD1_1"], header["CD1_2"]],
        "cd2": [header["CD2_1"], header["CD2_2"]],
        "fits_dimensions": [50, 40],
    }


def test_header_without_wcs_has_no_summary():
    assert wcs_summary(fits.Header({"NAXIS": 2, "NAXIS1": 5, "NAXIS2": 5}), (5, 5)) is None


def test_catalog_from_table_keeps_the_brightest_first_and_fills_sky_from_wcs():
    hdul = make_frame(shape=(64, 64), n_stars=12, seed=3)
    table = np.asarray(hdul["CAT"].data)
    without_sky = table[["xwin", "ywin", "flux"]]
    sources = sources_from_table(without_sky, celestial_wcs(hdul["SCI"].header), limit=5)
    order = np.argsort(-table["flux"])[:5]
    assert [source["x"] for source in sources] == pytest.approx(table["xwin"][order])
    assert [source["ra"] for source in sources] == pytest.approx(table["ra"][order], abs=1e-9)
    assert all(source["mag"] is None for source in sources)
