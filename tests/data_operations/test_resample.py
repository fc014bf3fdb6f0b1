"""The resampler: an interpolated WCS mapping, sampled with reproject_interp's bilinear conventions.

Each test runs on the C module and on the numpy fallback (forced through the environment); the
two must give identical pixels, and both must equal ``reproject_interp`` (order ``bilinear``).
"""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import pixel_to_pixel
from reproject import reproject_interp

from data_operations.frames.resample import PixelMapping, compiled_resampler, rows_needed
from data_operations.native import PURE_PYTHON_VARIABLE

GRID_SHAPE = (150, 170)


def grid_wcs(shape: tuple[int, int] = GRID_SHAPE) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [202.4696, 47.1952]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    wcs.wcs.cd = [[-0.39 / 3600, 0.0], [0.0, 0.39 / 3600]]
    return wcs


def frame_wcs(kind: str, shape: tuple[int, int] = GRID_SHAPE) -> WCS:
    """The grid's WCS shifted by a fraction of pixels, rotated, or distorted (SIP)."""
    header = grid_wcs(shape).to_header()
    header["CRPIX1"] += 6.37
    header["CRPIX2"] -= 4.81
    if kind == "rotated":
        angle, scale = np.radians(7.0), 0.39 / 3600
        for keyword in ("PC1_1", "PC1_2", "PC2_1", "PC2_2", "CDELT1", "CDELT2"):
            header.remove(keyword, ignore_missing=True)
        header["CD1_1"], header["CD1_2"] = -scale * np.cos(angle), scale * np.sin(angle)
        header["CD2_1"], header["CD2_2"] = scale * np.sin(angle), scale * np.cos(angle)
    elif kind == "distorted":
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
        header.update({"A_ORDER": 3, "A_2_0": 4.0e-6, "A_0_2": -3.0e-6, "A_1_1": 2.0e-6, "A_3_0": 2.0e-9,
                       "B_ORDER": 3, "B_2_0": -2.0e-6, "B_0_2": 5.0e-6, "B_1_1": 2.4e-6, "B_0_3": -3.0e-9})
    return WCS(header)


def frame_image(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Smooth sky plus noise and a few NaN pixels, two of them on the edges."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    image = (100.0 + 0.3 * cols + 0.2 * rows + 40 * np.sin(cols / 7.0) * np.cos(rows / 5.0)
             + rng.normal(0, 2, shape)).astype(np.float32)
    image[rng.integers(0, shape[0], 12), rng.integers(0, shape[1], 12)] = np.nan
    image[0, 40] = image[shape[0] - 1, 90] = np.nan
    return image


def resample_all(mapping: PixelMapping, image: np.ndarray, band_rows: int = 13) -> np.ndarray:
    """The whole grid, a band at a time, each from only the frame rows it needs."""
    coverage = mapping.coverage()
    out = np.empty(mapping.grid_shape, dtype=np.float32)
    for y0 in range(0, mapping.grid_shape[0], band_rows):
        y1 = min(mapping.grid_shape[0], y0 + band_rows)
        lo, hi = rows_needed(coverage, image.shape[0], y0, y1)
        mapping.resample(image[lo:hi], lo, y0, 0, out[y0:y1])
    return out


@pytest.mark.parametrize("kind", ["shifted", "rotated", "distorted"])
def test_interpolated_mapping_is_within_1e5_pixels_of_the_wcs(kind):
    wcs = frame_wcs(kind)
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, wcs, GRID_SHAPE)
    rows, cols = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
    exact_x, exact_y = pixel_to_pixel(grid_wcs(), wcs, cols.astype(float), rows.astype(float))
    x, y = mapping._positions(0, GRID_SHAPE[0], 0, GRID_SHAPE[1])
    assert np.abs(x - exact_x).max() < 1e-5
    assert np.abs(y - exact_y).max() < 1e-5


@pytest.mark.parametrize("kind", ["shifted", "rotated", "distorted"])
def test_resampled_frame_equals_reproject_interp(kind, kernel_path):
    frame_shape = (140, 160)  # smaller than the grid, so the grid has uncovered edges
    wcs = frame_wcs(kind, frame_shape)
    image = frame_image(frame_shape)
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, wcs, frame_shape)

    result = resample_all(mapping, image)

    expected = reproject_interp((image, wcs), grid_wcs(), shape_out=GRID_SHAPE, order="bilinear",
                                return_footprint=False, roundtrip_coords=False)
    np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
    finite = np.isfinite(expected)
    assert finite.sum() > 0.8 * finite.size
    np.testing.assert_allclose(result[finite], expected[finite], rtol=1e-5, atol=0)


@pytest.mark.parametrize("spacing", [4, 32])
@pytest.mark.parametrize("kind", ["shifted", "rotated", "distorted"])
def test_coverage_is_reprojects_footprint_row_by_row(kind, spacing, kernel_path):
    """Node intervals wholly on or off the frame are decided from their nodes, others pixel by pixel:
    either way each row's first and last covered column are exact, and the row bounds hold."""
    frame_shape = (120, 130)
    wcs = frame_wcs(kind, frame_shape)
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, wcs, frame_shape, spacing=spacing)
    footprint = np.isfinite(reproject_interp((np.ones(frame_shape, np.float32), wcs), grid_wcs(),
                                             shape_out=GRID_SHAPE, order="bilinear", return_footprint=False,
                                             roundtrip_coords=False))
    coverage = mapping.coverage()
    rows, cols = np.flatnonzero(footprint.any(axis=1)), np.flatnonzero(footprint.any(axis=0))
    assert coverage.box() == (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    covered = footprint.any(axis=1)
    np.testing.assert_array_equal(coverage.first_col, np.where(covered, footprint.argmax(axis=1), -1))
    np.testing.assert_array_equal(coverage.last_col,
                                  np.where(covered, GRID_SHAPE[1] - 1 - footprint[:, ::-1].argmax(axis=1), -1))
    _, frame_y = pixel_to_pixel(grid_wcs(), wcs, *np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]][::-1].astype(float))
    rounding = 1e-6  # the bounds come from interpolated positions, the truth from the WCS
    assert np.all(coverage.min_row[covered] <= np.where(footprint, frame_y, np.inf).min(axis=1)[covered] + rounding)
    assert np.all(coverage.max_row[covered] >= np.where(footprint, frame_y, -np.inf).max(axis=1)[covered] - rounding)
    assert np.isnan(coverage.min_row[~covered]).all()


def test_compiled_and_numpy_paths_give_identical_pixels(monkeypatch):
    if compiled_resampler() is None:
        pytest.skip("the C resampler is not built on this machine")
    wcs = frame_wcs("distorted")
    image = frame_image(GRID_SHAPE, seed=4)
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, wcs, GRID_SHAPE)
    compiled = resample_all(mapping, image, band_rows=17)
    compiled_coverage = mapping.coverage()
    monkeypatch.setenv(PURE_PYTHON_VARIABLE, "1")
    assert compiled_resampler() is None
    fallback = resample_all(mapping, image, band_rows=17)
    fallback_coverage = mapping.coverage()
    np.testing.assert_array_equal(compiled, fallback)
    for name in ("first_col", "last_col", "min_row", "max_row"):
        np.testing.assert_array_equal(getattr(compiled_coverage, name), getattr(fallback_coverage, name))


def test_a_window_missing_needed_rows_is_refused(kernel_path):
    wcs = frame_wcs("shifted")
    image = frame_image(GRID_SHAPE)
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, wcs, GRID_SHAPE)
    lo, hi = rows_needed(mapping.coverage(), GRID_SHAPE[0], 50, 60)
    out = np.empty((10, GRID_SHAPE[1]), dtype=np.float32)
    with pytest.raises(RuntimeError, match="needed frame rows outside the rows given"):
        mapping.resample(image[lo + 3:hi], lo + 3, 50, 0, out)


def test_a_cropped_region_samples_the_same_pixels(kernel_path):
    wcs = frame_wcs("rotated")
    image = frame_image(GRID_SHAPE, seed=2)
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, wcs, GRID_SHAPE)
    whole = resample_all(mapping, image)
    part = np.empty((30, 50), dtype=np.float32)
    lo, hi = rows_needed(mapping.coverage(), GRID_SHAPE[0], 40, 70)
    mapping.resample(image[lo:hi], lo, 40, 25, part)
    np.testing.assert_array_equal(part, whole[40:70, 25:75])


def test_mapping_follows_a_header_written_and_read_back(tmp_path):
    """Nodes come from the WCS as stored in a FITS header (SIP keywords included)."""
    wcs = frame_wcs("distorted")
    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(np.zeros(GRID_SHAPE, np.float32), header=wcs.to_header(relax=True)).writeto(path)
    read_back = WCS(fits.getheader(path))
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, read_back, GRID_SHAPE)
    x, y = pixel_to_pixel(grid_wcs(), wcs, 97.0, 33.0)
    position = mapping._positions(33, 34, 97, 98)
    assert abs(position[0][0, 0] - x) < 1e-5 and abs(position[1][0, 0] - y) < 1e-5


def test_the_c_module_refuses_buffers_of_the_wrong_type_or_size():
    module = compiled_resampler()
    if module is None:
        pytest.skip("the C resampler is not built on this machine")
    mapping = PixelMapping.between(grid_wcs(), GRID_SHAPE, frame_wcs("shifted"), GRID_SHAPE)
    window = np.zeros((20, GRID_SHAPE[1]), np.float32)
    out = np.empty((4, 10), np.float32)
    arguments = [window, 0, *GRID_SHAPE, mapping.nodes_x, mapping.nodes_y, *mapping.nodes_x.shape, mapping.spacing,
                 0, 0, out, 4, 10]
    with pytest.raises(ValueError, match="window must be contiguous float32 rows of frame_nx values"):
        module.resample(window.astype(np.float64), *arguments[1:])
    with pytest.raises(ValueError, match="out must be a contiguous float32 array of 40 values"):
        module.resample(*arguments[:11], np.empty((4, 9), np.float32), 4, 10)
    with pytest.raises(ValueError, match="the nodes do not cover the requested grid pixels"):
        module.resample(*arguments[:9], 2 * GRID_SHAPE[0], 0, out, 4, 10)
    with pytest.raises(ValueError, match="the grid is too large"):
        module.resample(*arguments[:12], 4, 1 << 40)
    assert module.resample(*arguments) == 0
