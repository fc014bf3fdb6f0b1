"""The image operations suite over the API: created by the client, run in-process by the worker's runner.

Inputs are earlier outputs of the user's (``source: "datalab"``), so nothing touches the network.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient

from datalab.datalab_session import runner
from datalab.datalab_session.models import OutputFile

pytestmark = pytest.mark.django_db

SHAPE = (24, 32)
WIZARD_KEYS = {
    "Median": {"input_files", "align"},
    "Stacking": {"input_files", "stacking_mode"},
    "Normalization": {"input_files"},
    "Subtraction": {"input_files", "subtraction_file"},
    "Color Image": {"color_channels"},
    "Combine": {"input_files", "method", "rejection", "sigma_low", "sigma_high", "max_iterations", "align"},
}


def sci_header(*, filter_name: str = "rp", dx: float = 0.0) -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.1, 2.2]
    wcs.wcs.crpix = [(SHAPE[1] + 1) / 2 + dx, (SHAPE[0] + 1) / 2]
    wcs.wcs.cd = [[-0.39 / 3600, 0.0], [0.0, 0.39 / 3600]]
    header = wcs.to_header()
    header["FILTER"] = filter_name
    header["OBJECT"] = "COSMOS"
    return header


def stored_output(user, basename: str, data: np.ndarray, tmp_path: Path, **header_options) -> dict:
    """An earlier output of the user's with a WCS, as the client sends it back as an input."""
    path = tmp_path / f"{basename}.fits"
    sci = fits.ImageHDU(data=data, header=sci_header(**header_options), name="SCI")
    fits.HDUList([fits.PrimaryHDU(), sci]).writeto(path)
    record = OutputFile.objects.create(user=user, basename=basename)
    record.fits_name = default_storage.save(f"outputs/{basename}.fits", ContentFile(path.read_bytes()))
    record.save()
    return {"source": "datalab", "basename": basename, "type": "fits"}


@pytest.fixture
def session_id(owner_api) -> int:
    return owner_api.post("/api/datasessions/", {"name": "suite", "input_data": []}, format="json").json()["id"]


def run_operation(api: APIClient, session_id: int, name: str, input_data: dict) -> dict:
    """POST the operation as the front end does, run it with the worker's runner, return its detail."""
    created = api.post(f"/api/datasessions/{session_id}/operations/", {"name": name, "input_data": input_data},
                       format="json")
    assert created.status_code == 201, created.json()
    operation_id = created.json()["id"]
    assert runner.execute(operation_id) == "completed"
    detail = api.get(f"/api/datasessions/{session_id}/operations/{operation_id}/").json()
    assert detail["status"] == "COMPLETED", detail["message"]
    assert detail["operation_progress"] == 1.0
    assert detail["input_data"] == input_data
    return detail


def fetch(url: str) -> bytes:
    """What a browser gets from a signed URL, without the API token."""
    response = APIClient().get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def product_image(entry: dict) -> np.ndarray:
    with fits.open(io.BytesIO(fetch(entry["fits_url"]))) as hdul:
        return np.asarray(hdul["SCI"].data)


def noisy(seed: int, level: float = 100.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(level, 5.0, size=SHAPE).astype(np.float32)


def test_available_operations_lists_the_suite_with_the_wizard_keys(owner_api):
    listed = owner_api.get("/api/available_operations/").json()
    for name, keys in WIZARD_KEYS.items():
        assert listed[name]["name"] == name
        assert set(listed[name]["inputs"]) == keys
        assert listed[name]["description"]
    assert listed["Stacking"]["inputs"]["stacking_mode"]["options"] == ["simple", "reproject"]
    assert listed["Stacking"]["inputs"]["stacking_mode"]["default"] == "simple"
    assert listed["Combine"]["inputs"]["method"]["options"] == ["mean", "median", "sum"]
    assert listed["Combine"]["inputs"]["rejection"]["options"] == ["none", "sigma_clip", "minmax"]
    assert listed["Combine"]["inputs"]["sigma_low"] == {**listed["Combine"]["inputs"]["sigma_low"],
                                                        "type": "float", "default": 3.0}
    assert listed["Median"]["inputs"]["align"]["options"] == ["none", "wcs"]
    channels = listed["Color Image"]["inputs"]["color_channels"]
    assert (channels["type"], channels["minimum"], channels["maximum"]) == ("fits", 1, 6)
    assert channels["color_picker"] is True and channels["include_custom_scale"] is True
    assert listed["Subtraction"]["inputs"]["subtraction_file"]["maximum"] == 1


def test_stacking_over_the_api(owner, owner_api, session_id, tmp_path):
    frames = [noisy(seed) for seed in range(3)]
    inputs = [stored_output(owner, f"datalab-st-{i}", data, tmp_path) for i, data in enumerate(frames)]

    detail = run_operation(owner_api, session_id, "Stacking", {"input_files": inputs, "stacking_mode": "simple"})

    [entry] = detail["output"]["output_files"]
    assert entry["type"] == "fits" and entry["filter"] == "rp" and entry["target_name"] == "COSMOS"
    assert entry["basename"].startswith("datalab-stacking-")
    expected = np.stack(frames).astype(np.float64).sum(axis=0).astype(np.float32)
    np.testing.assert_array_equal(product_image(entry), expected)
    with Image.open(io.BytesIO(fetch(entry["large_url"]))) as preview:
        assert preview.size == (SHAPE[1], SHAPE[0])


def test_normalization_output_chains_into_combine(owner, owner_api, session_id, tmp_path):
    frames = [noisy(seed, level) for seed, level in ((1, 100.0), (2, 200.0), (3, 400.0))]
    frames[1][7, 9] = 50000.0  # a cosmic ray in one frame
    inputs = [stored_output(owner, f"datalab-n-{i}", data, tmp_path) for i, data in enumerate(frames)]

    normalization = run_operation(owner_api, session_id, "Normalization", {"input_files": inputs})
    normalized_entries = normalization["output"]["output_files"]
    assert len(normalized_entries) == 3
    assert len({entry["basename"] for entry in normalized_entries}) == 3
    normalized = [product_image(entry) for entry in normalized_entries]
    for original, result in zip(frames, normalized, strict=True):
        np.testing.assert_allclose(result, original / np.median(original), rtol=1e-6)
        assert all(entry["filter"] == "rp" for entry in normalized_entries)

    chained = [{"source": "datalab", "basename": entry["basename"], "operation": normalization["id"],
                "type": "fits", "filter": entry["filter"]} for entry in normalized_entries]
    combine = run_operation(owner_api, session_id, "Combine",
                            {"input_files": chained, "method": "mean", "rejection": "minmax"})

    [entry] = combine["output"]["output_files"]
    assert entry["filter"] == "rp"
    with fits.open(io.BytesIO(fetch(entry["fits_url"]))) as hdul:
        combined = hdul["SCI"].data
        assert hdul["SCI"].header["NCOMBINE"] == 3 and hdul["SCI"].header["REJECT"] == "minmax"
        assert (hdul["REJECTED"].data == 2).all()
    np.testing.assert_allclose(combined, np.median(np.stack(normalized), axis=0), rtol=1e-6)  # middle of 3
    assert combined[7, 9] < 2.0  # the cosmic ray was rejected


def test_subtraction_over_the_api_gives_one_output_per_input(owner, owner_api, session_id, tmp_path):
    frames = [noisy(seed, 300.0) for seed in (4, 5)]
    sky = noisy(6, 100.0)
    inputs = [stored_output(owner, f"datalab-sub-{i}", data, tmp_path) for i, data in enumerate(frames)]
    subtrahend = [stored_output(owner, "datalab-sky", sky, tmp_path)]

    detail = run_operation(owner_api, session_id, "Subtraction",
                           {"input_files": inputs, "subtraction_file": subtrahend})

    entries = detail["output"]["output_files"]
    assert len(entries) == 2
    for original, entry in zip(frames, entries, strict=True):
        np.testing.assert_array_equal(product_image(entry), original - sky)


def test_color_image_over_the_api_is_an_image_with_a_tif(owner, owner_api, session_id, tmp_path):
    red = np.full(SHAPE, 75.0, np.float32)
    blue = np.full(SHAPE, 40.0, np.float32)
    channels = [
        {**stored_output(owner, "datalab-red", red, tmp_path, filter_name="rp"),
         "color": {"r": 255, "g": 0, "b": 0}, "zmin": 0, "zmax": 100},
        {**stored_output(owner, "datalab-blue", blue, tmp_path, filter_name="gp"),
         "color": {"r": 0, "g": 0, "b": 255}, "zmin": 20, "zmax": 60},
    ]

    detail = run_operation(owner_api, session_id, "Color Image", {"color_channels": channels})

    [entry] = detail["output"]["output_files"]
    assert entry["type"] == "image" and "fits_url" not in entry
    assert entry["target_name"] == "COSMOS" and "filter" not in entry
    with Image.open(io.BytesIO(fetch(entry["tif_url"]))) as picture:
        rgb = np.asarray(picture)
    assert rgb.shape == (SHAPE[0], SHAPE[1], 3)
    assert (rgb[..., 0] == 191).all() and (rgb[..., 1] == 0).all() and (rgb[..., 2] == 128).all()
    with Image.open(io.BytesIO(fetch(entry["small_url"]))) as thumbnail:
        assert thumbnail.mode == "RGB"


def test_unaligned_combine_of_different_pointings_warns_in_message(owner, owner_api, session_id, tmp_path):
    inputs = [stored_output(owner, "datalab-p-0", noisy(7), tmp_path),
              stored_output(owner, "datalab-p-1", noisy(8), tmp_path, dx=6.0)]
    detail = run_operation(owner_api, session_id, "Combine", {"input_files": inputs, "rejection": "none"})
    assert detail["message"].startswith(
        "The frames point at different sky positions (up to 6.0 pixels from the first frame: datalab-p-1) but "
        "were combined pixel by pixel without alignment. Choose align 'wcs' to align them on the sky."
    )
    aligned = run_operation(owner_api, session_id, "Combine",
                            {"input_files": inputs, "rejection": "none", "align": "wcs"})
    assert aligned["message"].startswith("Completed in ")


def test_failed_alignment_is_reported_as_a_sentence(owner, owner_api, session_id, tmp_path):
    inputs = [stored_output(owner, "datalab-w-0", noisy(9), tmp_path)]
    bare = tmp_path / "bare.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(noisy(10), name="SCI")]).writeto(bare)
    record = OutputFile.objects.create(user=owner, basename="datalab-bare")
    record.fits_name = default_storage.save("outputs/datalab-bare.fits", ContentFile(bare.read_bytes()))
    record.save()
    inputs.append({"source": "datalab", "basename": "datalab-bare"})
    created = owner_api.post(f"/api/datasessions/{session_id}/operations/",
                             {"name": "Stacking", "input_data": {"input_files": inputs, "stacking_mode": "reproject"}},
                             format="json").json()
    assert runner.execute(created["id"]) == "failed"
    detail = owner_api.get(f"/api/datasessions/{session_id}/operations/{created['id']}/").json()
    assert detail["status"] == "FAILED"
    assert detail["message"] == ("Frame datalab-bare has no usable celestial WCS, so it cannot be aligned on the "
                                 "sky; combine without alignment or leave it out.")
