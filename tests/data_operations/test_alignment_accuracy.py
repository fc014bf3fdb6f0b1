"""Aligned outputs against reproject_interp (bilinear), pixel by pixel, on frames with known geometry.

The frames show one sky: stars at fixed reference-pixel positions, sampled through each frame's own
WCS (a shift, a rotation with a shift, and SIP distortion). The expected result is computed
independently: every frame reprojected with ``reproject.reproject_interp`` onto the output grid,
then combined with numpy. Each test runs through the C resampler and through its numpy fallback.
"""
from __future__ import annotations

import numpy as np
import pytest
from alignment_helpers import BACKGROUND, STAR_PEAK
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image
from reproject import reproject_interp

from data_operations.color_image import ColorImage
from data_operations.combine import Combine
from data_operations.errors import OperationError
from data_operations.median import Median
from data_operations.stacking import Stacking

SHAPE = (72, 88)
STAR_SIGMA = 2.0
STARS = [(20.3, 18.6), (44.0, 36.2), (63.7, 50.9), (30.5, 55.1)]  # reference pixels (x, y), 0-based
INTERIOR = 8  # pixels from the edge of the common region left out of the comparison
FLUX_RADIUS = 8


def reference_wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [202.4696, 47.1952]
    wcs.wcs.crpix = [(SHAPE[1] + 1) / 2, (SHAPE[0] + 1) / 2]
    wcs.wcs.cd = [[-0.39 / 3600, 0.0], [0.0, 0.39 / 3600]]
    return wcs


def frame_headers() -> list[fits.Header]:
    reference = reference_wcs().to_header()
    shifted = reference.copy()
    shifted["CRPIX1"] += 3.4
    shifted["CRPIX2"] -= 2.7
    rotated = reference.copy()
    angle = np.radians(4.0)
    scale = 0.39 / 3600
    rotated["CD1_1"], rotated["CD1_2"] = -scale * np.cos(angle), scale * np.sin(angle)
    rotated["CD2_1"], rotated["CD2_2"] = scale * np.sin(angle), scale * np.cos(angle)
    for keyword in ("PC1_1", "PC1_2", "PC2_1", "PC2_2", "CDELT1", "CDELT2"):
        rotated.remove(keyword, ignore_missing=True)
    rotated["CRPIX1"] -= 1.8
    distorted = shifted.copy()
    distorted["CTYPE1"], distorted["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    distorted["CRPIX1"] -= 5.1
    distorted.update({"A_ORDER": 2, "A_2_0": 2.0e-5, "A_0_2": -1.5e-5, "A_1_1": 1.0e-5,
                      "B_ORDER": 2, "B_2_0": -1.0e-5, "B_0_2": 2.5e-5, "B_1_1": 1.2e-5})
    return [reference, shifted, rotated, distorted]


def sky_through(header: fits.Header) -> np.ndarray:
    """The one sky as this frame's WCS samples it: stars placed through world coordinates."""
    rows, cols = np.mgrid[: SHAPE[0], : SHAPE[1]]
    world = WCS(header).pixel_to_world_values(cols, rows)
    x, y = reference_wcs().world_to_pixel_values(*world)
    image = np.full(SHAPE, BACKGROUND)
    for star_x, star_y in STARS:
        image += STAR_PEAK * np.exp(-((x - star_x) ** 2 + (y - star_y) ** 2) / (2 * STAR_SIGMA**2))
    return image.astype(np.float32)


@pytest.fixture
def dithered(tmp_path):
    files = {}
    for index, header in enumerate(frame_headers()):
        path = tmp_path / f"dither-{index}.fits"
        sci = fits.ImageHDU(sky_through(header), header=header, name="SCI")
        fits.HDUList([fits.PrimaryHDU(), sci]).writeto(path)
        files[f"dither-{index}"] = path
    return files


def reprojected_onto(files: dict, wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    planes = []
    for path in files.values():
        with fits.open(path) as hdul:
            planes.append(reproject_interp((hdul["SCI"].data, WCS(hdul["SCI"].header)), wcs, shape_out=shape,
                                           order="bilinear", return_footprint=False))
    return np.stack(planes)


def product(output) -> tuple[np.ndarray, fits.Header]:
    with fits.open(output.fits_path) as hdul:
        return hdul["SCI"].data.astype(np.float64), hdul["SCI"].header


def assert_interior_matches(result: np.ndarray, expected: np.ndarray) -> None:
    inner = (slice(INTERIOR, -INTERIOR), slice(INTERIOR, -INTERIOR))
    assert np.isfinite(expected[inner]).all()
    np.testing.assert_allclose(result[inner], expected[inner], rtol=1e-5, atol=0)


def aperture_flux(image: np.ndarray, x: float, y: float) -> float:
    rows, cols = np.mgrid[: image.shape[0], : image.shape[1]]
    inside = (cols - x) ** 2 + (rows - y) ** 2 <= FLUX_RADIUS**2
    return float((image[inside] - BACKGROUND).sum())


@pytest.mark.parametrize("operation_class", [Median, Combine])
def test_align_wcs_equals_reproject_interp_then_combine(operation_class, dithered, make_context, kernel_path):
    items = [{"source": "archive", "basename": name} for name in dithered]
    inputs = {"input_files": items, "align": "wcs"}
    if operation_class is Combine:
        inputs.update(method="mean", rejection="none")
    result = operation_class(inputs).operate(make_context(dithered))

    image, _ = product(result.output_files[0])
    stack = reprojected_onto(dithered, reference_wcs(), SHAPE)
    expected = np.median(stack, axis=0) if operation_class is Median else stack.mean(axis=0)
    assert_interior_matches(image, expected)
    truth = sky_through(reference_wcs().to_header()).astype(np.float64)
    for x, y in STARS:
        assert aperture_flux(image, x, y) == pytest.approx(aperture_flux(truth, x, y), rel=5e-3)


def test_reproject_stack_equals_reproject_interp_then_sum(dithered, make_context, kernel_path):
    items = [{"source": "archive", "basename": name} for name in dithered]
    result = Stacking({"input_files": items, "stacking_mode": "reproject"}).operate(make_context(dithered))

    image, header = product(result.output_files[0])
    expected = reprojected_onto(dithered, WCS(header), image.shape).sum(axis=0)
    assert_interior_matches(image, expected)


@pytest.mark.parametrize("operation_class", [Median, Combine])
def test_align_wcs_refuses_frames_of_different_fields(operation_class, write_frame, make_context):
    data = np.full((40, 50), 100.0, dtype=np.float32)
    files = {"m51": write_frame("m51", data), "m4": write_frame("m4", data, CRVAL1=245.897, CRVAL2=-26.526)}
    items = [{"source": "archive", "basename": name} for name in files]
    with pytest.raises(OperationError) as refused:
        operation_class({"input_files": items, "align": "wcs"}).operate(make_context(files))
    assert str(refused.value) == "The frames do not all overlap on the sky; there is no common region."


def test_color_image_channels_equal_reproject_interp_then_composite(dithered, make_context, kernel_path):
    """Single-colour channels: each component is its channel reprojected onto the first and stretched."""
    names = list(dithered)[1:]  # shifted (the grid), rotated, distorted
    colors = [{"r": 255, "g": 0, "b": 0}, {"r": 0, "g": 255, "b": 0}, {"r": 0, "g": 0, "b": 255}]
    zmin, zmax = BACKGROUND, BACKGROUND + STAR_PEAK / 2
    items = [{"source": "archive", "basename": name, "color": color, "zmin": zmin, "zmax": zmax}
             for name, color in zip(names, colors, strict=True)]
    result = ColorImage({"color_channels": items}).operate(make_context(dithered))

    with Image.open(result.output_files[0].tif_path) as picture:
        rgb = np.asarray(picture)[::-1].astype(np.float64)  # FITS orientation
    with fits.open(dithered[names[0]]) as hdul:
        grid = WCS(hdul["SCI"].header)
    channels = reprojected_onto({name: dithered[name] for name in names}, grid, SHAPE)
    expected = np.clip((channels - zmin) / (zmax - zmin), 0, 1) * 255
    inner = (slice(INTERIOR, -INTERIOR), slice(INTERIOR, -INTERIOR))
    for component in range(3):
        difference = np.abs(rgb[..., component][inner] - expected[component][inner])
        assert difference.max() <= 1.0  # 8-bit rounding of a value within 1e-3 relative
