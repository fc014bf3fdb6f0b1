"""The Normalization and Subtraction operations: one product per input."""
import warnings

import numpy as np
import pytest
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.normalization import Normalization
from data_operations.registry import get_operation_class
from data_operations.subtraction import Subtraction


def items(*basenames):
    return [{"source": "archive", "basename": name} for name in basenames]


def test_each_frame_is_divided_by_its_own_median(write_frame, read_sci, make_context):
    rng = np.random.default_rng(5)
    files = {
        "bright": write_frame("bright", rng.normal(800.0, 30.0, size=(24, 30)).astype(np.float32), FILTER="V"),
        "faint": write_frame("faint", rng.integers(50, 150, size=(20, 26)).astype(np.int16), FILTER="B"),
    }
    with_nans = rng.normal(40.0, 2.0, size=(24, 30)).astype(np.float32)
    with_nans[:3] = np.nan
    files["nans"] = write_frame("nans", with_nans, compressed=False)
    context = make_context(files)

    result = Normalization({"input_files": items(*files)}).operate(context)

    assert len(result.output_files) == 3
    for output, (name, path) in zip(result.output_files, files.items(), strict=True):
        original = read_sci(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(original)
        with fits.open(output.fits_path) as hdul:
            normalized, header = hdul["SCI"].data, hdul["SCI"].header
        np.testing.assert_allclose(normalized, original / median, rtol=1e-6)
        assert np.nanmedian(normalized) == pytest.approx(1.0, rel=1e-6)
        assert header["DLNORMED"] == pytest.approx(median)
        assert header["DLIN0001"] == name and header["DLNIN"] == 1
        assert output.metadata["filter"] == {"bright": "V", "faint": "B", "nans": "rp"}[name]
    assert len({output.fits_path for output in result.output_files}) == 3
    assert context.progress[-1] == (1.0, "Done.")


def test_frame_with_zero_median_or_no_pixels_fails_clearly(write_frame, make_context):
    files = {"zero": write_frame("zero", np.zeros((8, 8), np.float32), compressed=False),
             "empty": write_frame("empty", np.full((8, 8), np.nan, np.float32), compressed=False)}
    with pytest.raises(OperationError) as caught:
        Normalization({"input_files": items("zero")}).operate(make_context(files))
    assert str(caught.value) == "Frame zero has a median of 0, so it cannot be normalized by it."
    with pytest.raises(OperationError) as caught:
        Normalization({"input_files": items("empty")}).operate(make_context(files))
    # The frame reader may refuse an all-NaN frame before Normalization looks for its median.
    assert str(caught.value) in ("Frame empty has no finite pixels, so it has no median to normalize by.",
                                 "Frame empty has no finite pixels (every value is NaN or infinite).")


def test_subtraction_frame_is_subtracted_from_each_input(write_frame, read_sci, make_context):
    rng = np.random.default_rng(8)
    sky = rng.normal(100.0, 3.0, size=(20, 25)).astype(np.float32)
    files = {"sky": write_frame("sky", sky, compressed=False)}
    for index in range(3):
        files[f"in{index}"] = write_frame(f"in{index}", (sky + 10.0 * (index + 1)).astype(np.float32),
                                          compressed=False)
    files["wide"] = write_frame("wide", np.full((22, 30), 500.0, np.float32), compressed=False,
                                OBJECT="other", CRPIX1=13.0, CRPIX2=10.5)

    result = Subtraction({"input_files": items("in0", "in1", "in2", "wide"),
                          "subtraction_file": items("sky")}).operate(make_context(files))

    assert len(result.output_files) == 4
    for index, output in enumerate(result.output_files[:3]):
        difference = fits.getdata(output.fits_path, "SCI")
        np.testing.assert_array_equal(difference, read_sci(files[f"in{index}"]) - read_sci(files["sky"]))
        assert output.metadata == {"filter": "rp", "target_name": "M51"}
        header = fits.getheader(output.fits_path, "SCI")
        assert header["DLSUBTR"] == "sky" and header["DLIN0002"] == "sky"
    wide = result.output_files[3]
    difference = fits.getdata(wide.fits_path, "SCI")
    assert difference.shape == (20, 25)
    np.testing.assert_array_equal(difference, 500.0 - read_sci(files["sky"]))
    assert wide.metadata == {"filter": "rp"}  # the targets differ
    assert result.warnings == ["wide: The input frames differ in size; the difference covers their common "
                               "region of 25x20 pixels from the origin."]


def test_wizards():
    assert get_operation_class("Normalization") is Normalization
    assert get_operation_class("Subtraction") is Subtraction
    normalization = Normalization.wizard_description()["inputs"]
    assert set(normalization) == {"input_files"} and normalization["input_files"]["minimum"] == 1
    subtraction = Subtraction.wizard_description()["inputs"]
    assert set(subtraction) == {"input_files", "subtraction_file"}
    assert subtraction["subtraction_file"]["minimum"] == subtraction["subtraction_file"]["maximum"] == 1
    Subtraction.validate_input_data({"input_files": items("a"), "subtraction_file": items("b")})
