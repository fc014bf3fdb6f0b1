"""The Median operation end to end on small frames written to disk."""
import warnings

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from data_operations.errors import InputValidationError, OperationError
from data_operations.median import Median
from data_operations.registry import get_operation_class


def items(*basenames):
    return [{"source": "archive", "basename": name} for name in basenames]


def expected_median(stack):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.stack(stack), axis=0)


def budget_for_rows(rows, frames, ny, nx):
    """A budget of ``rows`` rows per band: the band combined and two decoded ahead (no whole image is kept)."""
    return rows * frames * nx * 4 * 3


def test_banded_median_equals_nanmedian(write_frame, read_sci, make_context):
    rng = np.random.default_rng(0)
    ny, nx = 64, 80
    files, stack = {}, []
    for index in range(5):
        data = rng.normal(500.0, 30.0, size=(ny, nx)).astype(np.float32)
        data[rng.random(data.shape) < 0.05] = np.nan
        data[10, 20] = np.nan  # all-NaN pixel
        name = f"frame-{index}"
        files[name] = write_frame(name, data)
        stack.append(read_sci(files[name]))
    context = make_context(files, memory_budget_bytes=budget_for_rows(6, 5, ny, nx))

    result = Median({"input_files": items(*files)}).operate(context)

    assert result.warnings == []
    [output] = result.output_files
    with fits.open(output.fits_path) as hdul:
        median = hdul["SCI"].data
        header = hdul["SCI"].header
    np.testing.assert_array_equal(median, expected_median(stack))
    assert np.isnan(median[10, 20])
    assert header["DLOPER"] == "Median" and header["DLOPID"] == 42 and header["DLVERS"] == "0.1.0"
    assert [header[f"DLIN{i:04d}"] for i in range(1, 6)] == list(files)
    assert header["CTYPE1"] == "RA---TAN" and header["FILTER"] == "rp"
    assert "DLCROP" not in header
    assert output.metadata == {"filter": "rp", "target_name": "M51"}
    assert output.type == "fits"
    assert output.fits_path.parent == context.temp_dir
    for preview in (output.large_jpg_path, output.small_jpg_path):
        with Image.open(preview) as image:
            assert image.size == (80, 64)
    band_messages = [message for _, message in context.progress if message.startswith("Combining")]
    assert len(band_messages) == 11  # ceil(64 / 6) bands
    assert band_messages[0] == "Combining rows 1\u20136 of 64."
    fractions = [fraction for fraction, _ in context.progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_different_shapes_are_cropped_with_warning(write_frame, read_sci, make_context):
    rng = np.random.default_rng(1)
    shapes = {"a": (64, 80), "b": (60, 80), "c": (64, 72)}
    # One CRPIX for all: pixel (x, y) shows the same sky in every frame, so only the crop is reported.
    files = {name: write_frame(name, rng.normal(100, 5, size=shape).astype(np.float32),
                               OBJECT=f"target-{name}", CRPIX1=40.5, CRPIX2=32.5)
             for name, shape in shapes.items()}
    context = make_context(files, memory_budget_bytes=1)  # one row per band

    result = Median({"input_files": items(*files)}).operate(context)

    [output] = result.output_files
    with fits.open(output.fits_path) as hdul:
        median, header = hdul["SCI"].data, hdul["SCI"].header
    assert median.shape == (60, 72)
    np.testing.assert_array_equal(median, expected_median([read_sci(p)[:60, :72] for p in files.values()]))
    assert header["DLCROP"] is True
    assert len(result.warnings) == 1 and "72x60" in result.warnings[0]
    assert output.metadata == {"filter": "rp"}  # targets differ


def test_integer_inputs(write_frame, make_context):
    frames = [np.full((16, 20), value, dtype=np.int32) for value in (100, 300, 200, 1000)]
    files = {f"int-{i}": write_frame(f"int-{i}", data, compressed=i % 2 == 0)
             for i, data in enumerate(frames)}
    context = make_context(files, memory_budget_bytes=budget_for_rows(3, 4, 16, 20))

    [output] = Median({"input_files": items(*files)}).operate(context).output_files

    median = fits.getdata(output.fits_path, "SCI")
    assert median.dtype == np.float32
    np.testing.assert_array_equal(median, np.full((16, 20), 250.0, np.float32))


def test_frame_without_a_2d_image_fails_with_its_name(write_frame, make_context, tmp_path):
    good = write_frame("good", np.ones((8, 8), np.float32))
    bad = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((2, 8, 8)), name="IMG")]).writeto(bad)
    context = make_context({"good": good, "bad-frame": bad})
    with pytest.raises(OperationError) as caught:
        Median({"input_files": items("good", "bad-frame")}).operate(context)
    assert str(caught.value) == "Frame bad-frame has no 2-D image data."


def test_validation_and_registration():
    with pytest.raises(InputValidationError) as caught:
        Median.validate_input_data({"input_files": items("only-one")})
    assert str(caught.value) == "Median: 'input_files' needs at least 2 file(s); got 1."
    with pytest.raises(InputValidationError) as caught:
        Median.validate_input_data({})
    assert str(caught.value) == "Median needs 'input_files' (Input Files)."
    Median.validate_input_data({"input_files": items("a", "b")})
    assert get_operation_class("Median") is Median
    description = Median.wizard_description()
    assert description["category"] == "image"
    assert description["inputs"]["input_files"] == {
        "name": "Input Files", "description": "The input files to operate on", "type": "fits",
        "minimum": 2, "maximum": 999,
    }
