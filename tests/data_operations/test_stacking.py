"""The Stacking operation: simple sums and sums on a reprojected common grid."""
import numpy as np
import pytest
from alignment_helpers import BACKGROUND, STAR_PEAK, centroid, shifted_crpix, star_field
from astropy.io import fits
from astropy.wcs import WCS

from data_operations.errors import OperationError
from data_operations.registry import get_operation_class
from data_operations.stacking import Stacking


def items(*basenames):
    return [{"source": "archive", "basename": name} for name in basenames]


def test_simple_stack_is_the_pixel_sum(write_frame, read_sci, make_context):
    rng = np.random.default_rng(11)
    files, frames = {}, []
    for index in range(4):
        data = rng.normal(300.0, 20.0, size=(30, 40)).astype(np.float32)
        files[f"s{index}"] = write_frame(f"s{index}", data)
        frames.append(read_sci(files[f"s{index}"]))
    frames[2][5, 6] = np.nan
    files["s2"] = write_frame("s2", frames[2], compressed=False)
    context = make_context(files, memory_budget_bytes=4 * 40 * 4 * 3 * 3)  # 3 rows a band, 3 band buffers

    result = Stacking({"input_files": items(*files)}).operate(context)

    [output] = result.output_files
    with fits.open(output.fits_path) as hdul:
        summed, header = hdul["SCI"].data, hdul["SCI"].header
    expected = np.stack(frames).astype(np.float64).sum(axis=0).astype(np.float32)
    np.testing.assert_array_equal(summed, expected)
    assert np.isnan(summed[5, 6])
    assert result.warnings == ["1 of 1200 pixels are blank (NaN) because at least one frame has no value there."]
    assert header["STACKMOD"] == "simple" and header["NCOMBINE"] == 4 and header["CTYPE1"] == "RA---TAN"
    assert output.metadata == {"filter": "rp", "target_name": "M51"}
    assert len([m for _, m in context.progress if m.startswith("Summing rows")]) == 10


def test_reproject_stack_sums_the_common_region_on_a_new_wcs(write_frame, make_context):
    shape = (50, 60)
    star = (28.0, 24.0)
    offsets = [(0.0, 0.0), (6.0, 4.0), (-5.0, 3.0)]
    files = {}
    for index, (dx, dy) in enumerate(offsets):
        files[f"r{index}"] = write_frame(f"r{index}", star_field(shape, [(star[0] + dx, star[1] + dy)]),
                                         compressed=False, **shifted_crpix(shape, dx, dy))
    reference_wcs = WCS(fits.getheader(files["r0"], "SCI"))
    star_sky = reference_wcs.pixel_to_world_values(*star)

    result = Stacking({"input_files": items(*files), "stacking_mode": "reproject"}).operate(make_context(files))

    [output] = result.output_files
    with fits.open(output.fits_path) as hdul:
        summed, header = hdul["SCI"].data, hdul["SCI"].header
    # The common region is the reference frame less the largest shifts on each side.
    assert abs(summed.shape[0] - (shape[0] - 4)) <= 2 and abs(summed.shape[1] - (shape[1] - 11)) <= 2
    assert not np.isnan(summed).any()
    assert np.median(summed) == pytest.approx(3 * BACKGROUND, rel=1e-3)
    output_wcs = WCS(header)
    x, y = output_wcs.world_to_pixel_values(*star_sky)
    cx, cy = centroid(summed, float(x), float(y))
    assert abs(cx - x) < 0.5 and abs(cy - y) < 0.5
    assert summed.max() > 2 * STAR_PEAK  # the three stars landed on top of each other
    assert header["STACKMOD"] == "reproject" and header["NCOMBINE"] == 3
    assert result.warnings == []


def test_reproject_refuses_frames_without_wcs(write_frame, make_context, tmp_path):
    good = write_frame("good", np.ones((8, 8), np.float32))
    bare = tmp_path / "bare.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((8, 8), np.float32), name="SCI")]).writeto(bare)
    with pytest.raises(OperationError) as caught:
        Stacking({"input_files": items("good", "bare"), "stacking_mode": "reproject"}).operate(
            make_context({"good": good, "bare": bare}))
    assert str(caught.value) == ("Frame bare has no usable celestial WCS, so it cannot be aligned on the sky; "
                                 "combine without alignment or leave it out.")


def test_simple_stack_of_shifted_frames_warns(write_frame, make_context):
    shape = (20, 20)
    files = {"a": write_frame("a", np.ones(shape, np.float32)),
             "b": write_frame("b", np.ones(shape, np.float32), **shifted_crpix(shape, 3.0, 4.0))}
    result = Stacking({"input_files": items("a", "b")}).operate(make_context(files))
    assert result.warnings == [
        "The frames point at different sky positions (up to 5.0 pixels from the first frame: b) but were "
        "combined pixel by pixel without alignment. Choose stacking mode 'reproject' to align them."
    ]


def test_wizard():
    assert get_operation_class("Stacking") is Stacking
    inputs = Stacking.wizard_description()["inputs"]
    assert set(inputs) == {"input_files", "stacking_mode"}
    assert inputs["input_files"]["minimum"] == 2
    assert inputs["stacking_mode"] == {**inputs["stacking_mode"], "type": "select",
                                       "options": ["simple", "reproject"], "default": "simple"}
