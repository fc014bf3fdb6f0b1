"""Non-Sidereal Aperture Photometry: the light curve of a moving object the telescope tracked.

Each frame's header gives the target's position on it (``CAT-RA``/``CAT-DEC``), so the target stays
put on the detector while the stars drift past. Comparison stars are every catalogued star along
the track; when no ensemble spans the whole series, each frame is calibrated against the stars it
shares with its neighbours (the evolving solve).
"""
from __future__ import annotations

from typing import Any

from data_operations.aperture_photometry import AperturePhotometry
from data_operations.framework import TableResult
from data_operations.photometry.ephemeris_headers import header_positions
from data_operations.photometry.pixel_series import aperture_light_curve


class NonSiderealPhotometry(AperturePhotometry):
    @staticmethod
    def name() -> str:
        return "Non-Sidereal Aperture Photometry"

    @staticmethod
    def description() -> str:
        return ("Measures a moving object (an asteroid or comet the telescope tracked) on every frame at the "
                "position its header gives, and calibrates it against the comparison stars along its track.")

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        inputs = dict(super().wizard_description()["inputs"])
        inputs.pop("source")
        return cls.wizard(inputs)

    @classmethod
    def validate_target(cls, input_data: dict[str, Any]) -> None:
        """The target's positions come from the frames' headers: nothing to check before they are read."""

    @classmethod
    def canonical_inputs(cls, input_data: dict[str, Any]) -> dict[str, Any]:
        return super(AperturePhotometry, cls).canonical_inputs(input_data)

    def measure(self, frames, report) -> TableResult:
        located = header_positions(frames, self.name())
        first = next(frame for frame in frames if frame.basename == located.first)
        ra, dec = located.positions[located.first]
        target = {"name": str(first.header.get("OBJECT", "") or "").strip(), "ra": ra, "dec": dec}
        entry, images = aperture_light_curve(frames, target, self.settings(), report,
                                             already_excluded=self.skipped_frames, positions=located.positions,
                                             series_notes=located.notes)
        return self.table_result(entry, images, frames)
