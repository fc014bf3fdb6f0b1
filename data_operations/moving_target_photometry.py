"""Moving Target Aperture Photometry: the light curve of an asteroid or comet crossing the frames.

The target's track comes from its designation (JPL Horizons positions at each frame's
mid-exposure, seen from the frame's site) or, for API clients, from two or more given positions
``{mjd, ra, dec}``. It is refined from the frames' catalogues (field stars and outliers rejected),
and the target is measured along it; comparison stars are calibrated shared-then-evolving as for
non-sidereal frames.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations.aperture_photometry import AperturePhotometry
from data_operations.errors import InputValidationError, OperationError
from data_operations.framework import TableResult
from data_operations.photometry.catalog import clean_rows, missing_columns
from data_operations.photometry.frame_facts import frame_facts
from data_operations.photometry.pixel_series import aperture_light_curve
from data_operations.photometry.track import TrackSample, fit_track, samples_from_input, track_notes
from data_operations.photometry.track_refinement import FrameSources, refine_track


class MovingTargetPhotometry(AperturePhotometry):
    @staticmethod
    def name() -> str:
        return "Moving Target Aperture Photometry"

    @staticmethod
    def description() -> str:
        return ("Measures an asteroid or comet crossing sidereally tracked frames: its track comes from its "
                "designation (JPL Horizons) and is refined from the frames' catalogues; the target is calibrated "
                "against the comparison stars along it.")

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        inputs = dict(super().wizard_description()["inputs"])
        inputs.pop("source")
        return cls.wizard({
            "target_designation": {"name": "Target Designation", "type": "string",
                                   "description": "The asteroid's or comet's name or designation as JPL Horizons "
                                                  "knows it, e.g. 2026 DL1 or 433"},
            **inputs,
            "track_search_radius": {"name": "Target Search Radius", "type": "float", "default": 10.0,
                                    "description": "How far from its predicted position the target is looked for "
                                                   "in each frame's catalogue, in arcsec"},
        })

    @classmethod
    def validate_target(cls, input_data: dict[str, Any]) -> None:
        cls._designation_or_samples(input_data)
        radius = input_data.get("track_search_radius")
        if radius is not None and not radius > 0:
            raise InputValidationError(f"{cls.name()}: 'track_search_radius' must be more than 0 arcsec.")

    @classmethod
    def _designation_or_samples(cls, input_data: dict[str, Any]) -> tuple[str | None, list[TrackSample] | None]:
        designation = input_data.get("target_designation")
        designation = designation.strip() if isinstance(designation, str) and designation.strip() else None
        positions = input_data.get("target_positions")
        if designation is None and positions is None:
            raise InputValidationError(f"{cls.name()} needs 'target_designation' (Target Designation): the object's "
                                       "name or designation for JPL Horizons, or 'target_positions': two or more "
                                       "{mjd, ra, dec} positions.")
        if designation is not None and positions is not None:
            raise InputValidationError(f"{cls.name()}: give either 'target_designation' or 'target_positions', "
                                       "not both.")
        if positions is None:
            return designation, None
        try:
            return None, samples_from_input(cls.name(), positions)
        except ValueError as error:
            raise InputValidationError(str(error)) from None

    @classmethod
    def canonical_inputs(cls, input_data: dict[str, Any]) -> dict[str, Any]:
        """The designation or the positions (API clients' alternative, not in the wizard) name the target."""
        canonical = super(AperturePhotometry, cls).canonical_inputs(input_data)
        designation, samples = cls._designation_or_samples(input_data)
        canonical["target_designation"] = designation
        canonical["target_positions"] = None if samples is None else [[s.mjd, s.ra, s.dec] for s in samples]
        return canonical

    def ephemeris_designation(self) -> str | None:
        """The designation to look up with JPL Horizons (the framework does it before ``measure``)."""
        return self._designation_or_samples(self.input_data)[0]

    def measure(self, frames, report) -> TableResult:
        designation, samples = self._designation_or_samples(self.input_data)
        if designation is not None:
            samples = self.ephemeris
        radius = float(self.value("track_search_radius"))
        timed = []
        for frame in frames:
            try:
                timed.append((frame, frame_facts(frame.header, frame.basename).mid_mjd))
            except OperationError:
                continue  # the pixel engine excludes it with the reason
        timed.sort(key=lambda pair: pair[1])
        prediction = fit_track(samples)
        origin = "the given positions" if designation is None else f"the JPL Horizons positions of {designation}"
        notes = track_notes(prediction, [mjd for _, mjd in timed], origin)
        sources = []
        for frame, mjd in timed:
            if missing_columns(frame.catalog, ("ra", "dec")):
                sources.append(FrameSources(mjd, np.zeros(0), np.zeros(0)))
                continue
            keep = clean_rows(frame.catalog)
            sources.append(FrameSources(mjd, np.asarray(frame.catalog["ra"], float)[keep],
                                        np.asarray(frame.catalog["dec"], float)[keep]))
        refinement = refine_track(prediction, samples, sources, radius)
        notes += refinement.notes
        ra, dec = refinement.track.at([mjd for _, mjd in timed])
        positions = {frame.basename: (float(r), float(d)) for (frame, _), r, d in zip(timed, np.atleast_1d(ra),
                                                                                       np.atleast_1d(dec), strict=True)}
        if not positions:
            raise OperationError("No input frame has a usable DATE-OBS or MJD-OBS, so the target cannot be placed on "
                                 "any frame.")
        first = timed[0][0]
        name = designation or str(first.header.get("OBJECT", "") or "").strip()
        target = {"name": name, "ra": positions[first.basename][0], "dec": positions[first.basename][1]}
        entry, images = aperture_light_curve(frames, target, self.settings(), report,
                                             already_excluded=self.skipped_frames, positions=positions,
                                             series_notes=notes)
        entry["track_search_radius"] = radius
        entry["target_positions"] = [{"mjd": s.mjd, "ra": s.ra, "dec": s.dec} for s in samples]
        if designation is not None:
            entry["target_designation"] = designation
        entry["units"]["track_search_radius"] = "arcsec"
        return self.table_result(entry, images, frames)
