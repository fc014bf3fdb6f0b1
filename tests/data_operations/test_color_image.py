"""The Color Image operation and its compositing kernel."""
import numpy as np
import pytest
from alignment_helpers import centroid, shifted_crpix, star_field
from astropy.io import fits
from PIL import Image

from data_operations.color_image import ColorImage
from data_operations.errors import InputValidationError
from data_operations.kernels.color import composite_band
from data_operations.registry import get_operation_class

RED, GREEN, BLUE = {"r": 255, "g": 0, "b": 0}, {"r": 0, "g": 255, "b": 0}, {"r": 0, "g": 0, "b": 255}


def channel(basename, color, zmin=None, zmax=None):
    item = {"source": "archive", "basename": basename, "color": color}
    if zmin is not None:
        item.update(zmin=zmin, zmax=zmax)
    return item


def read_rgb(path):
    """The picture as (ny, nx, 3) in FITS orientation (row 0 at the bottom)."""
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)[::-1]


def expected_component(data, zmin, zmax):
    return np.rint(np.clip((data.astype(np.float64) - zmin) / (zmax - zmin), 0, 1) * 255).astype(np.uint8)


def test_three_single_colour_channels_give_the_expected_rgb(write_frame, read_sci, make_context):
    rng = np.random.default_rng(2)
    shape = (30, 40)
    frames = {name: rng.uniform(0, 1000, size=shape).astype(np.float32) for name in ("red", "green", "blue")}
    files = {name: write_frame(name, data, compressed=False, FILTER=name[0])
             for name, data in frames.items()}
    limits = {"red": (100.0, 900.0), "green": (0.0, 500.0), "blue": (300.0, 1000.0)}
    channels = [channel(name, color, *limits[name]) for name, color in zip(frames, (RED, GREEN, BLUE), strict=True)]

    result = ColorImage({"color_channels": channels}).operate(make_context(files))

    [output] = result.output_files
    assert output.type == "image" and output.fits_path is None
    assert output.tif_path.suffix == ".tif"
    rgb = read_rgb(output.tif_path)
    assert rgb.shape == (30, 40, 3)
    for component, name in enumerate(("red", "green", "blue")):
        np.testing.assert_array_equal(rgb[..., component], expected_component(read_sci(files[name]), *limits[name]))
    for preview in (output.large_jpg_path, output.small_jpg_path):
        with Image.open(preview) as image:
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == (40, 30)
    assert output.metadata == {"target_name": "M51"}  # filters differ
    assert result.warnings == []


def test_composite_adds_tinted_channels_and_clips():
    band = np.array([[[0.0, 50.0, 100.0, np.nan]], [[100.0, 100.0, 100.0, 100.0]]], dtype=np.float32)
    yellow = (255, 255, 0)
    half_blue = (0, 0, 128)
    rgb = composite_band(band, [(0.0, 100.0), (0.0, 100.0)], [yellow, half_blue])
    assert rgb[0].tolist() == [[0, 0, 128], [128, 128, 128], [255, 255, 128], [0, 0, 128]]
    bright = composite_band(band, [(0.0, 100.0), (0.0, 100.0)], [(255, 0, 0), (255, 0, 0)])
    assert bright[0, :, 0].tolist() == [255, 255, 255, 255]  # 0..2 clipped to 1


def test_channels_are_aligned_on_the_first_by_wcs(write_frame, make_context):
    shape = (40, 50)
    star = (22.0, 18.0)
    dx, dy = 3.6, -2.2
    files = {"r": write_frame("r", star_field(shape, [star]), compressed=False),
             "g": write_frame("g", star_field(shape, [(star[0] + dx, star[1] + dy)]), compressed=False,
                              **shifted_crpix(shape, dx, dy))}
    channels = [channel("r", RED, 0.0, 1000.0), channel("g", GREEN, 0.0, 1000.0)]

    result = ColorImage({"color_channels": channels}).operate(make_context(files))

    rgb = read_rgb(result.output_files[0].tif_path).astype(np.float64)
    for component in (0, 1):
        cx, cy = centroid(rgb[..., component], *star)
        assert abs(cx - star[0]) < 0.5 and abs(cy - star[1]) < 0.5
    assert result.warnings == []


def test_channel_without_wcs_is_overlaid_by_pixel_with_a_message(write_frame, make_context, tmp_path):
    shape = (12, 16)
    files = {"with-wcs": write_frame("with-wcs", np.full(shape, 50.0, np.float32), compressed=False)}
    bare = tmp_path / "bare.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.full(shape, 100.0, np.float32), name="SCI")]).writeto(bare)
    files["bare"] = bare
    channels = [channel("with-wcs", RED, 0.0, 100.0), channel("bare", BLUE, 0.0, 100.0)]

    result = ColorImage({"color_channels": channels}).operate(make_context(files))
    rgb = read_rgb(result.output_files[0].tif_path)
    assert (rgb[..., 0] == 128).all() and (rgb[..., 2] == 255).all() and (rgb[..., 1] == 0).all()
    assert result.warnings == ["bare has no usable WCS, so it was overlaid by pixel position instead of "
                               "aligned on the sky."]

    reversed_result = ColorImage({"color_channels": channels[::-1]}).operate(make_context(files))
    assert reversed_result.warnings == ["The first channel (bare) has no usable WCS, so the channels were "
                                        "overlaid by pixel position without alignment."]


def test_missing_limits_fall_back_to_zscale(write_frame, read_sci, make_context):
    from data_operations.products import zscale_limits

    data = np.random.default_rng(9).normal(200.0, 15.0, size=(32, 32)).astype(np.float32)
    files = {"grey": write_frame("grey", data, compressed=False)}
    result = ColorImage({"color_channels": [channel("grey", RED)]}).operate(make_context(files))
    rgb = read_rgb(result.output_files[0].tif_path)
    low, high = zscale_limits(read_sci(files["grey"]))
    np.testing.assert_array_equal(rgb[..., 0], expected_component(read_sci(files["grey"]), low, high))


def test_wizard_and_validation():
    assert get_operation_class("Color Image") is ColorImage
    inputs = ColorImage.wizard_description()["inputs"]
    assert set(inputs) == {"color_channels"}
    spec = inputs["color_channels"]
    assert spec["color_picker"] is True and spec["include_custom_scale"] is True
    assert spec["type"] == "fits" and spec["minimum"] == 1 and spec["maximum"] == 6
    with pytest.raises(InputValidationError) as caught:
        ColorImage.validate_input_data({"color_channels": [{"source": "archive", "basename": "a"}]})
    assert str(caught.value) == "Color Image: 'color_channels' item 1 needs 'color' with r, g, b between 0 and 255."
    with pytest.raises(InputValidationError) as caught:
        ColorImage.validate_input_data({"color_channels": [channel(f"c{i}", RED) for i in range(7)]})
    assert str(caught.value) == "Color Image: 'color_channels' accepts at most 6 file(s); got 7."
