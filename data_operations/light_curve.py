"""Light Curve: a star's brightness over time from the reduced frames' source catalogues.

Each frame's ``CAT`` magnitude of the source nearest the target (within 4 arcsec), timed at
mid-exposure from the frame header, with JD, BJD_TDB and airmass per point.
"""
from __future__ import annotations

from typing import Any

from data_operations.framework import TableOperation, TableResult
from data_operations.photometry.catalog_series import CatalogSeries, catalog_entry, catalog_light_curve
from data_operations.photometry.exports import light_curve_downloads
from data_operations.photometry.inputs import aavso_inputs, light_curve_files, source_input, target_of


class LightCurve(TableOperation):
    requires_catalog = True
    minimum_frames = 1

    @staticmethod
    def name() -> str:
        return "Light Curve"

    @staticmethod
    def description() -> str:
        return ("Plots the brightness of one star over time from the pipeline's source catalogue of each frame: "
                "the catalogued magnitude nearest the star, at the middle of each exposure.")

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({"source": source_input(), "input_files": light_curve_files(minimum=cls.minimum_frames),
                           **aavso_inputs()})

    @classmethod
    def validate_input_data(cls, input_data: Any, *, max_files: int = 500) -> None:
        super().validate_input_data(input_data, max_files=max_files)
        target_of(cls.name(), input_data)

    def series(self, frames, report) -> tuple[dict[str, Any], CatalogSeries]:
        target = target_of(self.name(), self.input_data)
        series = catalog_light_curve(frames, target, report, already_excluded=self.skipped_frames)
        first = (self.files() or [{}])[0]
        filter_name = first.get("filter") or first.get("primary_optical_element") or frames[0].header.get("FILTER")
        return {"target": target, "filter": filter_name}, series

    def measure(self, frames, report) -> TableResult:
        facts, series = self.series(frames, report)
        entry = catalog_entry(series, facts["target"], facts["filter"])
        return TableResult(output_data=[entry], downloads=light_curve_downloads(self, entry))
