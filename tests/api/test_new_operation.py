"""A new combining operation is a description plus its science: defined here, it runs end to end.

Nothing outside this module knows about ``Brightest``: the framework fetches its inputs, reports
progress, builds the header with provenance and publishes the product with signed links.
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from data_operations.base import fits_input
from data_operations.framework import StackOperation
from data_operations.registry import register_operation
from tests.api.test_operations_suite import fetch, noisy, run_operation, stored_output

pytestmark = pytest.mark.django_db


class Brightest(StackOperation):
    """The brightest finite sample of every pixel (a maximum, ignoring missing values)."""

    output_stem = "brightest"
    product_noun = "maximum"

    @staticmethod
    def name() -> str:
        return "Brightest"

    @staticmethod
    def description() -> str:
        return "Keeps the brightest finite value of every pixel across the frames."

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({"input_files": fits_input("Input Files", "The frames", minimum=2)})

    def combine_band(self, band: np.ndarray, out: np.ndarray, planes: dict[str, np.ndarray]) -> None:
        finite = np.where(np.isfinite(band), band, -np.inf)
        np.max(finite, axis=0, out=out)
        out[np.isneginf(out)] = np.nan


@pytest.fixture
def brightest_offered():
    withdraw = register_operation(Brightest)
    yield
    withdraw()


def test_an_operation_defined_in_a_test_module_runs_through_the_api(brightest_offered, owner, owner_api, tmp_path):
    frames = [noisy(seed) for seed in range(3)]
    frames[1][3, 4] = np.nan
    frames[0][5, 6] = 9000.0
    inputs = [stored_output(owner, f"datalab-br-{i}", data, tmp_path) for i, data in enumerate(frames)]
    session_id = owner_api.post("/api/datasessions/", {"name": "new op", "input_data": []}, format="json").json()["id"]

    listed = owner_api.get("/api/available_operations/").json()
    assert listed["Brightest"]["inputs"]["input_files"]["minimum"] == 2

    detail = run_operation(owner_api, session_id, "Brightest", {"input_files": inputs})

    [entry] = detail["output"]["output_files"]
    assert entry["basename"].startswith("datalab-brightest-")
    with fits.open(io.BytesIO(fetch(entry["fits_url"]))) as hdul:
        image, header = hdul["SCI"].data, hdul["SCI"].header
        assert header["DLOPER"] == "Brightest"
        assert header["DLNIN"] == 3
        assert [header[f"DLIN{i:04d}"] for i in (1, 2, 3)] == [item["basename"] for item in inputs]
        assert header["FILTER"] == "rp"
    np.testing.assert_array_equal(image, np.nanmax(np.stack(frames), axis=0))
    assert image[5, 6] == 9000.0


def test_a_withdrawn_operation_is_no_longer_offered(owner_api):
    withdraw = register_operation(Brightest)
    withdraw()
    assert "Brightest" not in owner_api.get("/api/available_operations/").json()
    created = owner_api.post("/api/datasessions/", {"name": "s", "input_data": []}, format="json").json()["id"]
    response = owner_api.post(f"/api/datasessions/{created}/operations/", {"name": "Brightest", "input_data": {}},
                              format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("Unknown operation 'Brightest'")
