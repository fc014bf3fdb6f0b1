"""Aperture Photometry: a fixed target's calibrated light curve measured on the pixels.

The target and its comparison stars are measured with circular apertures and a sigma-clipped
sky annulus on every frame; an ensemble of constant comparison stars from the frames' catalogues
puts the target on the catalogue's magnitude scale. The period block follows when 8 or more
points are usable.
"""
from __future__ import annotations

from typing import Any

from data_operations.errors import InputValidationError
from data_operations.framework import TableFile, TableOperation, TableResult
from data_operations.photometry import output
from data_operations.photometry.exports import light_curve_downloads
from data_operations.photometry.inputs import aavso_inputs, light_curve_files, source_input, target_of
from data_operations.photometry.pixel_series import ApertureSettings, aperture_light_curve

RADII = ("aperture_radius", "annulus_inner_radius", "annulus_outer_radius")


def _number(name: str, description: str, default: float, kind: str = "float", **options: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "type": kind, "default": default, **options}


class AperturePhotometry(TableOperation):
    requires_catalog = True

    @staticmethod
    def name() -> str:
        return "Aperture Photometry"

    @staticmethod
    def description() -> str:
        return ("Measures a star's brightness on every frame with a circular aperture and a sky annulus, and "
                "calibrates it against an ensemble of constant comparison stars from the frames' catalogues.")

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "source": source_input("The star to measure: a name to look up, or RA and Dec in degrees"),
            "input_files": light_curve_files(minimum=1),
            "aperture_radius": _number("Aperture Radius", "Radius of the star's aperture, in arcsec", 7.64,
                                       required=True),
            "annulus_inner_radius": _number("Annulus Inner Radius", "Inner radius of the sky annulus, in arcsec",
                                            12.73, required=True),
            "annulus_outer_radius": _number("Annulus Outer Radius", "Outer radius of the sky annulus, in arcsec",
                                            19.10, required=True),
            "min_comparisons": _number("Minimum Comparison Stars", "Fewest comparison stars to calibrate with", 5,
                                       "int"),
            "max_comparisons": _number("Maximum Comparison Stars", "Most comparison stars to calibrate with", 10,
                                       "int"),
            **aavso_inputs(),
        })

    @classmethod
    def validate_input_data(cls, input_data: Any, *, max_files: int = 500) -> None:
        super().validate_input_data(input_data, max_files=max_files)
        cls.validate_target(input_data)
        operation = cls({} if not isinstance(input_data, dict) else input_data)
        radii = [operation.value(key) for key in RADII]
        if not 0 < radii[0] < radii[1] < radii[2]:
            raise InputValidationError(f"{cls.name()}: the radii must satisfy 0 < aperture_radius < "
                                       "annulus_inner_radius < annulus_outer_radius.")
        if not 0 < operation.value("min_comparisons") <= operation.value("max_comparisons"):
            raise InputValidationError(f"{cls.name()}: the comparison counts must satisfy 0 < min_comparisons <= "
                                       "max_comparisons.")

    @classmethod
    def validate_target(cls, input_data: dict[str, Any]) -> None:
        """Raise InputValidationError unless the inputs name the target (operations that locate it otherwise
        override this)."""
        target_of(cls.name(), input_data)

    @classmethod
    def canonical_inputs(cls, input_data: dict[str, Any]) -> dict[str, Any]:
        """The target counts whichever key named it (``source`` or an API client's ``target_positions``)."""
        return {**super().canonical_inputs(input_data), "source": target_of(cls.name(), input_data)}

    def settings(self) -> ApertureSettings:
        return ApertureSettings(*(float(self.value(key)) for key in RADII),
                                min_comparisons=int(self.value("min_comparisons")),
                                max_comparisons=int(self.value("max_comparisons")))

    def measure(self, frames, report) -> TableResult:
        target = target_of(self.name(), self.input_data)
        entry, images = aperture_light_curve(frames, target, self.settings(), report,
                                             already_excluded=self.skipped_frames)
        return self.table_result(entry, images, frames)

    def table_result(self, entry: dict[str, Any], images: dict[str, bytes], frames) -> TableResult:
        """The finished output: the filter named, the downloads and the diagnostic pictures."""
        first = (self.files() or [{}])[0]
        entry["filter"] = first.get("filter") or first.get("primary_optical_element") or \
            frames[0].header.get("FILTER") or "None"
        entry = output.finite(entry)
        return TableResult(output_data=[entry], downloads=light_curve_downloads(self, entry),
                           files=[TableFile(content=picture, filename=f"{name}-diagnostic.jpg", key=name)
                                  for name, picture in images.items()])
