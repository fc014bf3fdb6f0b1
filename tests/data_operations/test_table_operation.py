"""The table shape: frames and their CAT tables in, rows out; an unusable frame is skipped with a note."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from data_operations.base import fits_input
from data_operations.errors import OperationError
from data_operations.framework import TableOperation, TableResult


class SourceCounts(TableOperation):
    """Per frame: the number of catalogue sources brighter than a flux, and the exposure time."""

    requires_catalog = True

    @staticmethod
    def name() -> str:
        return "Source Counts"

    @staticmethod
    def description() -> str:
        return "Counts catalogue sources."

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({"input_files": fits_input("Input Files", "Frames", minimum=1)}, category="photometry")

    def measure(self, frames, report) -> TableResult:
        rows = []
        for position, frame in enumerate(frames):
            report(position / len(frames), f"Counting {frame.basename}.")
            rows.append({"frame": frame.basename, "exptime": frame.header["EXPTIME"],
                         "bright": int(np.count_nonzero(frame.catalog["flux"] > 100.0)),
                         "image_sum": float(frame.image().sum())})
        return TableResult(output_data=[{"counts": rows}])


def write_catalog_frame(path, data: np.ndarray, fluxes: list[float] | None, exptime: float):
    header = fits.Header({"EXPTIME": exptime, "OBJECT": "RR Lyr"})
    hdus = [fits.PrimaryHDU(), fits.CompImageHDU(data, header=header, name="SCI", compression_type="RICE_1")]
    if fluxes is not None:
        hdus.append(fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=np.array(fluxes))],
                                                  name="CAT"))
    fits.HDUList(hdus).writeto(path)
    return path


def test_table_operation_reads_headers_catalogues_and_images(tmp_path, make_context, read_sci):
    image = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    files = {
        "a": write_catalog_frame(tmp_path / "a.fits.fz", image, [50.0, 150.0, 300.0], 30.0),
        "b": write_catalog_frame(tmp_path / "b.fits.fz", image * 2, [500.0], 60.0),
        "no-cat": write_catalog_frame(tmp_path / "c.fits.fz", image, None, 10.0),
    }
    context = make_context(files)
    items = [{"source": "archive", "basename": name} for name in ("a", "no-cat", "b")]

    result = SourceCounts({"input_files": items}).operate(context)

    [entry] = result.output_data
    assert entry["counts"] == [
        {"frame": "a", "exptime": 30.0, "bright": 2, "image_sum": float(read_sci(files["a"]).sum())},
        {"frame": "b", "exptime": 60.0, "bright": 1, "image_sum": float(read_sci(files["b"]).sum())},
    ]
    assert result.warnings == ["no-cat was skipped: Frame no-cat has no CAT source catalogue."]
    assert context.progress[-1] == (1.0, "Done.")
    assert [fraction for fraction, _ in context.progress] == sorted(fraction for fraction, _ in context.progress)


def test_table_operation_with_no_usable_frame_fails_with_every_reason(tmp_path, make_context):
    files = {"no-cat": write_catalog_frame(tmp_path / "c.fits.fz", np.ones((8, 8), np.float32), None, 10.0)}
    with pytest.raises(OperationError) as failed:
        SourceCounts({"input_files": [{"source": "archive", "basename": "no-cat"}]}).operate(make_context(files))
    assert str(failed.value) == ("None of the 1 input frames could be used. "
                                 "no-cat was skipped: Frame no-cat has no CAT source catalogue.")
