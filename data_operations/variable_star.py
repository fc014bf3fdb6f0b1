"""Variable Star: the light curve of Light Curve plus its period (Lomb-Scargle).

The period search runs on BJD_TDB when every point has it, on an explicit grid up to 24 cycles
per day; with fewer than 8 usable points the light curve is returned without a period, and says so.
"""
from __future__ import annotations

from data_operations.framework import TableResult
from data_operations.light_curve import LightCurve
from data_operations.photometry.catalog_series import catalog_entry, period_of
from data_operations.photometry.exports import light_curve_downloads


class VariableStar(LightCurve):
    minimum_frames = 8

    @staticmethod
    def name() -> str:
        return "Variable Star"

    @staticmethod
    def description() -> str:
        return ("Measures a variable star's light curve from the pipeline's source catalogues and finds its "
                "period with a Lomb-Scargle periodogram (periods from one hour to the length of the series).")

    def measure(self, frames, report) -> TableResult:
        facts, series = self.series(frames, report)
        period, skipped = period_of(series.rows)
        entry = catalog_entry(series, facts["target"], facts["filter"], period=period,
                              series_notes=[skipped] if skipped else [])
        return TableResult(output_data=[entry], downloads=light_curve_downloads(self, entry),
                           warnings=[skipped] if skipped else [])
