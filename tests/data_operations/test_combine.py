"""The Combine operation (and Median's align option) on small frames written to disk."""
import numpy as np
import pytest
from alignment_helpers import BACKGROUND, centroid, shifted_crpix, star_field
from astropy.io import fits

from data_operations.combine import Combine
from data_operations.errors import InputValidationError, OperationError
from data_operations.median import Median
from data_operations.registry import get_operation_class


def items(*basenames):
    return [{"source": "archive", "basename": name} for name in basenames]


def test_sigma_clipped_mean_rejects_a_cosmic_ray_and_records_it(write_frame, read_sci, make_context):
    rng = np.random.default_rng(7)
    shape = (40, 50)
    files, stack = {}, []
    for index in range(5):
        data = rng.normal(200.0, 4.0, size=shape).astype(np.float32)
        if index == 2:
            data[11, 17] = 30000.0
        files[f"f{index}"] = write_frame(f"f{index}", data, compressed=False)
        stack.append(read_sci(files[f"f{index}"]))
    stack = np.stack(stack)
    # A small budget forces several row bands.
    context = make_context(files, memory_budget_bytes=shape[0] * shape[1] * 6 + 5 * 50 * 4 * 5 * 4)

    result = Combine({"input_files": items(*files), "method": "mean", "rejection": "sigma_clip",
                      "sigma_low": 3.0, "sigma_high": 3.0}).operate(context)

    [output] = result.output_files
    with fits.open(output.fits_path) as hdul:
        combined, header = hdul["SCI"].data, hdul["SCI"].header
        rejected = hdul["REJECTED"].data
    assert rejected[11, 17] >= 1
    kept = stack[:, 11, 17][stack[:, 11, 17] < 1000]
    assert len(kept) == 5 - rejected[11, 17]
    assert combined[11, 17] == pytest.approx(kept.astype(np.float64).mean(), rel=1e-6)
    # Where nothing was rejected the result is the plain mean.
    clean = rejected == 0
    np.testing.assert_allclose(combined[clean], stack.astype(np.float64).mean(axis=0)[clean], rtol=1e-6)
    assert header["COMBMETH"] == "mean" and header["REJECT"] == "sigma_clip"
    assert header["SIGLOW"] == 3.0 and header["SIGHIGH"] == 3.0 and header["NCOMBINE"] == 5
    assert header["DLALIGN"] == "none" and header["DLOPER"] == "Median"  # provenance from the context
    assert output.metadata == {"filter": "rp", "target_name": "M51"}
    assert result.warnings == []
    band_messages = [message for _, message in context.progress if message.startswith("Combining rows")]
    assert len(band_messages) > 1
    fractions = [fraction for fraction, _ in context.progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_mean_without_rejection_keeps_the_cosmic_ray(write_frame, read_sci, make_context):
    frames = [np.full((10, 12), 50.0, np.float32) for _ in range(4)]
    frames[1][3, 4] = 10050.0
    files = {f"c{i}": write_frame(f"c{i}", data, compressed=False) for i, data in enumerate(frames)}
    result = Combine({"input_files": items(*files), "rejection": "none"}).operate(make_context(files))
    with fits.open(result.output_files[0].fits_path) as hdul:
        combined, rejected, header = hdul["SCI"].data, hdul["REJECTED"].data, hdul["SCI"].header
    assert combined[3, 4] == pytest.approx(2550.0)
    assert combined[0, 0] == pytest.approx(50.0)
    assert rejected.sum() == 0
    assert header["REJECT"] == "none" and "SIGLOW" not in header and header["NCOMBINE"] == 4


def test_minmax_median_and_sum_of_integer_frames_with_nans(write_frame, make_context):
    values = [10, 20, 30, 40, 1000]
    files = {}
    for index, value in enumerate(values):
        data = np.full((6, 8), value, dtype=np.int32)
        files[f"i{index}"] = write_frame(f"i{index}", data, compressed=index % 2 == 0)
    nan_frame = np.full((6, 8), 25.0, np.float32)
    nan_frame[0, 0] = np.nan
    files["n"] = write_frame("n", nan_frame, compressed=False)
    names = list(files)

    def run(method):
        context = make_context(files)
        output = Combine({"input_files": items(*names), "method": method, "rejection": "minmax"}
                         ).operate(context).output_files[0]
        with fits.open(output.fits_path) as hdul:
            assert hdul["SCI"].header["COMBMETH"] == {"sum": "scaled-sum"}.get(method, method)
            return hdul["SCI"].data, hdul["REJECTED"].data

    mean, rejected = run("mean")
    median, _ = run("median")
    total, _ = run("sum")
    kept = [20, 25, 30, 40]  # 10 and 1000 rejected
    assert mean[3, 3] == pytest.approx(np.mean(kept))
    assert median[3, 3] == pytest.approx(np.median(kept))
    assert total[3, 3] == pytest.approx(np.mean(kept) * 6)
    assert (rejected == 2).all()
    # Pixel (0, 0) lacks the NaN frame's sample: 20, 30, 40 remain.
    assert mean[0, 0] == pytest.approx(30.0)
    assert total[0, 0] == pytest.approx(30.0 * 6)


def test_align_wcs_puts_a_shifted_star_on_the_reference(write_frame, make_context):
    shape = (60, 70)
    star = (30.0, 28.0)
    dx, dy = 4.3, -2.6
    files = {
        "ref": write_frame("ref", star_field(shape, [star]), compressed=False),
        "moved": write_frame("moved", star_field(shape, [(star[0] + dx, star[1] + dy)]), compressed=False,
                             **shifted_crpix(shape, dx, dy)),
        "moved2": write_frame("moved2", star_field(shape, [(star[0] - dy, star[1] + dx)]), compressed=False,
                              **shifted_crpix(shape, -dy, dx)),
    }

    aligned = Combine({"input_files": items(*files), "method": "median", "rejection": "none", "align": "wcs"}
                      ).operate(make_context(files))

    image = fits.getdata(aligned.output_files[0].fits_path, "SCI")
    cx, cy = centroid(image, *star)
    assert abs(cx - star[0]) < 0.5 and abs(cy - star[1]) < 0.5
    assert aligned.warnings == []
    assert fits.getheader(aligned.output_files[0].fits_path, "SCI")["DLALIGN"] == "wcs"
    unaligned = Combine({"input_files": items(*files), "method": "median", "rejection": "none"}
                        ).operate(make_context(files))
    unaligned_image = fits.getdata(unaligned.output_files[0].fits_path, "SCI")
    assert abs(centroid(unaligned_image, *star)[0] - star[0]) > 0.5  # unaligned, the median star sits elsewhere
    # Pixels the shifted frames do not reach still get the reference's value (NaNs are skipped).
    assert image[0, 0] == pytest.approx(BACKGROUND)
    [warning] = unaligned.warnings
    assert warning == (
        "The frames point at different sky positions (up to 5.0 pixels from the first frame: moved, moved2) "
        "but were combined pixel by pixel without alignment. Choose align 'wcs' to align them on the sky."
    )


def test_align_wcs_refuses_a_frame_without_wcs(write_frame, make_context, tmp_path):
    good = write_frame("good", np.ones((8, 8), np.float32))
    bare = tmp_path / "bare.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((8, 8), np.float32), name="SCI")]).writeto(bare)
    context = make_context({"good": good, "bare": bare})
    with pytest.raises(OperationError) as caught:
        Combine({"input_files": items("good", "bare"), "align": "wcs"}).operate(context)
    assert str(caught.value) == ("Frame bare has no usable celestial WCS, so it cannot be aligned on the sky; "
                                 "combine without alignment or leave it out.")
    assert not (context.temp_dir / "aligned").exists()


def test_mixed_shapes_are_cropped_with_a_warning(write_frame, read_sci, make_context):
    same_sky = {"CRPIX1": 15.5, "CRPIX2": 10.5}  # both frames' pixel (x, y) show the same sky
    files = {"a": write_frame("a", np.full((20, 30), 1.0, np.float32), **same_sky),
             "b": write_frame("b", np.full((18, 32), 3.0, np.float32), **same_sky)}
    result = Combine({"input_files": items("a", "b"), "rejection": "none"}).operate(make_context(files))
    image = fits.getdata(result.output_files[0].fits_path, "SCI")
    assert image.shape == (18, 30)
    np.testing.assert_allclose(image, 2.0)
    assert result.warnings == ["The input frames differ in size; the combined image covers their common region "
                               "of 30x18 pixels from the origin."]


def test_median_align_wcs_matches_the_reference_grid(write_frame, make_context):
    shape = (50, 60)
    star = (25.0, 22.0)
    files = {"r": write_frame("r", star_field(shape, [star]), compressed=False)}
    for index, (dx, dy) in enumerate([(3.5, 1.25), (-2.0, 4.75)]):
        files[f"s{index}"] = write_frame(f"s{index}", star_field(shape, [(star[0] + dx, star[1] + dy)]),
                                         compressed=False, **shifted_crpix(shape, dx, dy))
    result = Median({"input_files": items(*files), "align": "wcs"}).operate(make_context(files))
    image = fits.getdata(result.output_files[0].fits_path, "SCI")
    cx, cy = centroid(image, *star)
    assert abs(cx - star[0]) < 0.5 and abs(cy - star[1]) < 0.5
    assert result.warnings == []
    plain = Median({"input_files": items(*files)}).operate(make_context(files))
    assert len(plain.warnings) == 1 and "different sky positions" in plain.warnings[0]


def test_wizard_and_validation():
    assert get_operation_class("Combine") is Combine
    inputs = Combine.wizard_description()["inputs"]
    assert set(inputs) == {"input_files", "method", "rejection", "sigma_low", "sigma_high", "max_iterations", "align"}
    assert (inputs["max_iterations"]["type"], inputs["max_iterations"]["default"]) == ("int", 5)
    assert inputs["method"]["options"] == ["mean", "median", "sum"]
    assert inputs["rejection"]["options"] == ["none", "sigma_clip", "minmax"]
    assert inputs["align"] == {**inputs["align"], "type": "select", "options": ["none", "wcs"], "default": "none"}
    assert inputs["sigma_low"]["default"] == 3.0 and inputs["sigma_high"]["type"] == "float"
    with pytest.raises(InputValidationError) as caught:
        Combine.validate_input_data({"input_files": items("a", "b"), "rejection": "clip"})
    assert str(caught.value) == "Combine: 'rejection' must be one of none, sigma_clip, minmax; got 'clip'."
    with pytest.raises(InputValidationError) as caught:
        Combine.validate_input_data({"input_files": items("a", "b"), "sigma_high": 0})
    assert str(caught.value) == "Combine: 'sigma_high' must be at least 0.1."
    with pytest.raises(InputValidationError) as caught:
        Combine.validate_input_data({"input_files": items("a", "b"), "max_iterations": 0})
    assert str(caught.value) == "Combine: 'max_iterations' must be at least 1."
    assert Median.wizard_description()["inputs"]["align"]["options"] == ["none", "wcs"]
