"""What the operations compute, as the README states it: infinite pixels, clipping passes, scaled sums."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import sigma_clip

from data_operations.combine import Combine
from data_operations.median import Median
from data_operations.normalization import Normalization
from data_operations.stacking import Stacking
from data_operations.subtraction import Subtraction

SHAPE = (16, 20)


def items(*names):
    return [{"source": "archive", "basename": name} for name in names]


def product(output) -> tuple[np.ndarray, fits.Header]:
    with fits.open(output.fits_path) as hdul:
        return hdul["SCI"].data, hdul["SCI"].header


@pytest.fixture
def frames_with_infinities(write_frame):
    rng = np.random.default_rng(5)
    data = [rng.normal(100.0, 3.0, SHAPE).astype(np.float32) for _ in range(4)]
    data[1][2, 3] = np.inf
    data[2][2, 3] = -np.inf
    data[3][7, 8] = np.inf
    files = {f"inf{i}": write_frame(f"inf{i}", frame, compressed=False) for i, frame in enumerate(data)}
    return files, data


def test_infinite_pixels_are_missing_in_every_stack_operation(frames_with_infinities, make_context):
    files, data = frames_with_infinities
    missing = np.stack([np.where(np.isinf(frame), np.nan, frame) for frame in data]).astype(np.float64)
    runs = {
        "median": Median({"input_files": items(*files)}),
        "mean": Combine({"input_files": items(*files), "method": "mean", "rejection": "none"}),
        "sum": Stacking({"input_files": items(*files)}),
    }
    expected = {
        "median": np.nanmedian(missing, axis=0),
        "mean": np.nanmean(missing, axis=0),
        "sum": missing.sum(axis=0),  # a pixel is summed only where every frame has a value
    }
    for name, operation in runs.items():
        result = operation.operate(make_context(files))
        image, header = product(result.output_files[0])
        np.testing.assert_allclose(image, expected[name], rtol=1e-6, equal_nan=True, err_msg=name)
        assert header["DLNINF"] == 3
        assert ("3 input pixels were infinite and treated as missing (NaN), like blank pixels; DLNINF in the "
                "header records the count.") in result.warnings
    assert np.isnan(expected["sum"][2, 3]) and np.isfinite(expected["mean"][2, 3])


def test_frame_by_frame_products_count_their_infinite_pixels(frames_with_infinities, make_context):
    files, data = frames_with_infinities
    result = Normalization({"input_files": items("inf0", "inf1")}).operate(make_context(files))
    headers = [product(output)[1] for output in result.output_files]
    assert [header["DLNINF"] for header in headers] == [0, 1]
    assert result.warnings == ["inf1: 1 input pixel was infinite and treated as missing (NaN), like blank pixels; "
                               "DLNINF in the header records the count."]
    difference = Subtraction({"input_files": items("inf1"), "subtraction_file": items("inf3")}).operate(
        make_context(files))
    image, header = product(difference.output_files[0])
    assert header["DLNINF"] == 2
    assert np.isnan(image[2, 3]) and np.isnan(image[7, 8])


@pytest.mark.parametrize("max_iterations", [1, 2, 5])
def test_combine_clips_as_astropy_with_its_pass_limit(max_iterations, write_frame, make_context):
    rng = np.random.default_rng(11)
    stack = rng.normal(50.0, 4.0, size=(12, *SHAPE)).astype(np.float32)
    stack[3, :, :5] += 40.0  # a trail, and a halo that later passes reach
    stack[4, :, :5] += 12.0
    files = {f"c{i}": write_frame(f"c{i}", frame, compressed=False) for i, frame in enumerate(stack)}
    result = Combine({"input_files": items(*files), "method": "mean", "rejection": "sigma_clip",
                      "sigma_low": 2.0, "sigma_high": 2.0, "max_iterations": max_iterations}
                     ).operate(make_context(files))

    with fits.open(result.output_files[0].fits_path) as hdul:
        image, header, rejected = hdul["SCI"].data, hdul["SCI"].header, hdul["REJECTED"].data
    clipped = sigma_clip(stack, sigma_lower=2.0, sigma_upper=2.0, maxiters=max_iterations, cenfunc="median",
                         stdfunc="mad_std", axis=0)
    np.testing.assert_array_equal(rejected, clipped.mask.sum(axis=0))
    np.testing.assert_allclose(image, clipped.mean(axis=0).filled(np.nan), rtol=1e-5)
    assert header["SIGMAXIT"] == max_iterations


def test_combine_sum_is_scaled_to_every_frame_and_says_so(write_frame, make_context):
    stack = np.full((4, *SHAPE), 10.0, dtype=np.float32)
    stack[2, 5, 5] = 1000.0  # rejected by minmax, as is one 10.0
    files = {f"s{i}": write_frame(f"s{i}", frame, compressed=False) for i, frame in enumerate(stack)}
    result = Combine({"input_files": items(*files), "method": "sum", "rejection": "minmax"}).operate(
        make_context(files))
    image, header = product(result.output_files[0])
    assert header["COMBMETH"] == "scaled-sum"
    assert header.comments["COMBMETH"] == "Mean of the kept samples x NCOMBINE"
    assert image[5, 5] == pytest.approx(10.0 * 4)  # mean of the two kept samples x 4 frames


def test_an_explicit_null_input_means_its_default(write_frame, make_context):
    stack = np.random.default_rng(3).normal(20.0, 1.0, size=(3, *SHAPE)).astype(np.float32)
    files = {f"n{i}": write_frame(f"n{i}", frame, compressed=False) for i, frame in enumerate(stack)}
    nulls = {"method": None, "rejection": None, "sigma_low": None, "sigma_high": None, "max_iterations": None}
    Combine.validate_input_data({"input_files": items(*files), **nulls})
    with_nulls = Combine({"input_files": items(*files), **nulls}).operate(make_context(files))
    image, header = product(with_nulls.output_files[0])
    assert (header["COMBMETH"], header["REJECT"], header["SIGLOW"], header["SIGMAXIT"]) == ("mean", "sigma_clip",
                                                                                             3.0, 5)
    assert Combine.cache_key({"input_files": items(*files), **nulls}) == Combine.cache_key(
        {"input_files": items(*files)})
