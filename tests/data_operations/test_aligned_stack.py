"""AlignedStack: frames already on the target grid are copied; others are resampled onto it."""
import numpy as np
import pytest
from alignment_helpers import shifted_crpix, star_field
from astropy.io import fits
from astropy.wcs import WCS
from reproject import reproject_interp

from data_operations.errors import OperationError
from data_operations.frames.alignment import AlignedStack, Grid


def _band(stack: AlignedStack) -> np.ndarray:
    ny = stack.shape[0]
    return np.concatenate([band.copy() for _, _, band in stack.bands(ny)], axis=1)


def test_frames_on_the_grid_are_copied_and_shifted_ones_resampled(write_frame, read_sci, tmp_path):
    shape = (30, 40)
    stars = [(12.0, 9.0), (27.5, 20.0)]
    rng = np.random.default_rng(3)
    reference = write_frame("ref", star_field(shape, stars) + rng.normal(0, 3, shape).astype(np.float32))
    same = write_frame("same", star_field(shape, stars, seed=1, noise=3.0))
    shifted = write_frame("shifted", star_field(shape, [(x + 0.3, y) for x, y in stars]),
                          **shifted_crpix(shape, 0.3, 0.0))

    with AlignedStack([reference, same, shifted], ["ref", "same", "shifted"], workdir=tmp_path / "aligned",
                      memory_budget_bytes=1 << 28) as stack:
        band = _band(stack)

    # The reference and a frame with the same WCS: exactly the decoded pixels, no interpolation.
    np.testing.assert_array_equal(band[0], read_sci(reference))
    np.testing.assert_array_equal(band[1], read_sci(same))
    # A third of a pixel off: resampled (bilinear), so it differs from its own pixels but lands
    # the stars where the reference has them.
    assert not np.array_equal(band[2], read_sci(shifted))
    assert abs(band[2][9, 12] - band[1][9, 12]) < 0.1 * band[1][9, 12]


# --- resampling band by band ------------------------------------------------------------------------
SHAPE = (64, 72)
SCALE = 0.39 / 3600


def rotation(degrees: float) -> dict[str, float]:
    angle = np.radians(degrees)
    return {"PC1_1": -SCALE * np.cos(angle), "PC1_2": SCALE * np.sin(angle),
            "PC2_1": SCALE * np.sin(angle), "PC2_2": SCALE * np.cos(angle)}


@pytest.fixture
def dithered_frames(write_frame):
    """A reference, a shifted frame with NaN pixels, a rotated one and one turned by 90 degrees."""
    stars = [(20.3, 18.6), (44.0, 36.2), (50.7, 50.9)]
    shifted = star_field(SHAPE, stars, seed=1, noise=2.0)
    shifted[[5, 30, 31, 63], [7, 40, 40, 70]] = np.nan
    return {
        "ref": write_frame("ref", star_field(SHAPE, stars, noise=2.0)),
        "shifted": write_frame("shifted", shifted, **shifted_crpix(SHAPE, 4.3, -2.6)),
        "rotated": write_frame("rotated", star_field(SHAPE, stars, seed=2, noise=2.0),
                               **shifted_crpix(SHAPE, -1.7, 0.9), **rotation(6.0)),
        "turned": write_frame("turned", star_field(SHAPE, stars, seed=3, noise=2.0), **rotation(90.0)),
    }


def reprojected(paths: dict, read_sci, wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    planes = []
    for path in paths.values():
        with fits.open(path) as hdul:
            frame_wcs = WCS(hdul["SCI"].header)
        planes.append(reproject_interp((read_sci(path), frame_wcs), wcs, shape_out=shape, order="bilinear",
                                       return_footprint=False, roundtrip_coords=False))
    return np.stack(planes)


def read_all(stack: AlignedStack, rows: int, workers: int) -> np.ndarray:
    return np.concatenate([band.copy() for _, _, band in stack.bands(rows, workers=workers)], axis=1)


@pytest.mark.parametrize("rows, workers", [(7, 0), (7, 2), (64, 0), (1, 2)])
def test_bands_equal_reproject_interp_whatever_their_height_and_threads(rows, workers, dithered_frames, read_sci,
                                                                       tmp_path, kernel_path):
    with AlignedStack(list(dithered_frames.values()), list(dithered_frames), workdir=tmp_path / "aligned",
                      memory_budget_bytes=1 << 28) as stack:
        bands = read_all(stack, rows, workers)
        grid = stack.wcs

    expected = reprojected(dithered_frames, read_sci, grid, SHAPE)
    np.testing.assert_array_equal(bands[0], read_sci(dithered_frames["ref"]))  # on the grid: its own pixels
    for index in (1, 2, 3):
        np.testing.assert_array_equal(np.isnan(bands[index]), np.isnan(expected[index]))
        finite = np.isfinite(expected[index])
        np.testing.assert_allclose(bands[index][finite], expected[index][finite], rtol=1e-5, atol=0)


def test_frames_whose_windows_outgrow_the_budget_are_resampled_whole_with_the_same_pixels(
        dithered_frames, tmp_path, kernel_path):
    paths, names = list(dithered_frames.values()), list(dithered_frames)
    with AlignedStack(paths, names, workdir=tmp_path / "windows", memory_budget_bytes=1 << 28) as stack:
        streamed = read_all(stack, 8, 0)
    # A budget that only holds the bands: the frames are resampled into files, then read back.
    with AlignedStack(paths, names, workdir=tmp_path / "files", memory_budget_bytes=3 * 4 * 8 * SHAPE[1] * 4) as stack:
        bands = stack.bands(8, workers=0)
        first = next(bands)[2].copy()
        written = sorted(path.name for path in (tmp_path / "files").iterdir())
        whole = np.concatenate([first, *[band.copy() for _, _, band in bands]], axis=1)
    assert written == ["aligned-0001.f32", "aligned-0002.f32", "aligned-0003.f32"]
    assert not (tmp_path / "files").exists()  # removed on close
    np.testing.assert_array_equal(whole, streamed)


def test_a_frame_without_finite_pixels_is_named(write_frame, tmp_path):
    reference = write_frame("ref", star_field(SHAPE, [(20.0, 20.0)]))
    empty = write_frame("empty", np.full(SHAPE, np.nan, dtype=np.float32), compressed=False,
                        **shifted_crpix(SHAPE, 1.5, 0.5))
    with AlignedStack([reference, empty], ["ref", "empty"], workdir=tmp_path / "aligned",
                      memory_budget_bytes=1 << 28) as stack:
        with pytest.raises(OperationError) as refused:
            read_all(stack, 16, 0)
    assert str(refused.value) == "Frame empty has no finite pixels (every value is NaN or infinite)."


def test_cropping_to_the_common_region_cuts_frames_on_the_grid_at_its_origin(write_frame, read_sci, tmp_path,
                                                                           kernel_path):
    reference = write_frame("ref", star_field(SHAPE, [(30.0, 25.0)], noise=2.0))
    shifted = write_frame("shifted", star_field(SHAPE, [(35.2, 28.1)], seed=1, noise=2.0),
                          **shifted_crpix(SHAPE, -5.2, -3.1))
    with fits.open(reference) as hdul:
        grid = Grid(WCS(hdul["SCI"].header), SHAPE)
    with AlignedStack([reference, shifted], ["ref", "shifted"], workdir=tmp_path / "aligned",
                      memory_budget_bytes=1 << 28, grid=grid, crop_to_common=True) as stack:
        bands = read_all(stack, 10, 2)
        shape = stack.shape
    # Grid pixel (x, y) is the shifted frame's (x - 5.2, y - 3.1), on it from x = 4.7 and y = 2.6
    # (half a pixel before its first centre): the common region starts at grid row 3, column 5.
    assert shape == (SHAPE[0] - 3, SHAPE[1] - 5)
    np.testing.assert_array_equal(bands[0], read_sci(reference)[3:, 5:])
    expected = reprojected({"shifted": shifted}, read_sci, grid.wcs, SHAPE)[0][3:, 5:]
    np.testing.assert_allclose(bands[1], expected, rtol=1e-5, atol=0)


def test_optimal_grid_is_reprojects_optimal_celestial_wcs(dithered_frames):
    from reproject.mosaicking import find_optimal_celestial_wcs

    from data_operations.frames import FrameStack
    from data_operations.frames.alignment import optimal_grid

    with FrameStack(list(dithered_frames.values())) as stack:
        grid = optimal_grid(stack.frames)
        expected_wcs, expected_shape = find_optimal_celestial_wcs(
            [(frame.shape, WCS(frame.header)) for frame in stack.frames], negative_lon_cdelt=True)
    assert grid.shape == tuple(expected_shape)
    assert list(grid.wcs.wcs.ctype) == list(expected_wcs.wcs.ctype)
    np.testing.assert_allclose(grid.wcs.wcs.crval, expected_wcs.wcs.crval, rtol=0, atol=1e-10)
    np.testing.assert_allclose(grid.wcs.wcs.crpix, expected_wcs.wcs.crpix, rtol=0, atol=1e-6)
    np.testing.assert_allclose(grid.wcs.wcs.cdelt, expected_wcs.wcs.cdelt, rtol=1e-12, atol=0)
    np.testing.assert_allclose(grid.wcs.pixel_scale_matrix, expected_wcs.pixel_scale_matrix, rtol=1e-12, atol=1e-18)
    assert grid.wcs.wcs.radesys == expected_wcs.wcs.radesys
