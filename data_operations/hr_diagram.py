"""HR Diagram: a cluster's colour-magnitude diagram from two filters, with Gaia astrometry per star.

The calibrated catalogues of a blue and a red frame are cross-matched into colours; the stars
within the search radius of the cluster centre are matched to Gaia DR3 (moved to the frames'
epoch along their proper motions), which adds proper motions, parallaxes and distances and a first
guess at the cluster's members from the clump it forms in proper-motion space.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from astropy.time import Time

from data_operations.base import fits_input
from data_operations.errors import InputValidationError, OperationError
from data_operations.framework import CatalogFrame, TableDownload, TableOperation, TableResult
from data_operations.photometry import output
from data_operations.photometry.catalog_series import covers
from data_operations.photometry.cmd import Cluster, band_stars, cmd_table, colour_magnitude
from data_operations.photometry.frame_facts import frame_facts
from data_operations.photometry.gaia import ConeQuery

BLUE, RED = "blue_filter_files", "red_filter_files"
BLUE_FILTERS, RED_FILTERS = ["gp"], ["rp", "ip", "zs"]
DEFAULT_RADIUS_ARCMIN, MAX_RADIUS_ARCMIN = 15.0, 60.0


class HRDiagram(TableOperation):
    requires_catalog = True
    input_keys = (BLUE, RED)

    @staticmethod
    def name() -> str:
        return "HR Diagram"

    @staticmethod
    def description() -> str:
        return ("Builds a colour-magnitude diagram (an observational HR diagram) of a star cluster from one image in "
                "a blue and one in a red filter. The calibrated catalogues of the two images are matched star by "
                "star into colours and magnitudes; Gaia DR3 adds each star's proper motion, parallax and distance, "
                "and a first guess at the cluster's members.")

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            BLUE: fits_input("Blue Band Image", "The image of the cluster in the bluer filter", minimum=1, maximum=1,
                             single_filter=True, filter_options=list(BLUE_FILTERS)),
            RED: fits_input("Red Band Image", "The image of the cluster in the redder filter (colour = blue - red)",
                            minimum=1, maximum=1, single_filter=True, filter_options=list(RED_FILTERS)),
            "cluster": {"name": "Cluster Center", "type": "source",
                        "description": "The centre of the star cluster, RA and Dec in degrees"},
            "search_radius_arcmin": {"name": "Search Radius (arcmin)",
                                     "description": "Include stars within this radius of the cluster centre",
                                     "type": "float", "default": DEFAULT_RADIUS_ARCMIN, "maximum": MAX_RADIUS_ARCMIN},
        })

    @classmethod
    def validate_input_data(cls, input_data: Any, *, max_files: int = 500) -> None:
        super().validate_input_data(input_data, max_files=max_files)
        if input_data.get("cluster") is None:
            raise InputValidationError(f"{cls.name()} needs 'cluster' (Cluster Center): the cluster's centre, with "
                                       "'ra' and 'dec' in degrees.")
        if cls(input_data).value("search_radius_arcmin") <= 0:
            raise InputValidationError(f"{cls.name()}: 'search_radius_arcmin' must be greater than zero.")

    def cluster(self) -> Cluster:
        centre = self.input_data.get("cluster") or {}
        name = centre.get("name")
        return Cluster(name=name if isinstance(name, str) else "", ra=float(centre["ra"]), dec=float(centre["dec"]),
                       radius_arcmin=float(self.value("search_radius_arcmin")))

    def gaia_cone(self) -> ConeQuery:
        cluster = self.cluster()
        return ConeQuery(cluster.ra, cluster.dec, cluster.radius_arcmin)

    def filter_of(self, key: str, frame: CatalogFrame) -> str:
        item = (self.files(key) or [{}])[0]
        return item.get("filter") or item.get("primary_optical_element") or frame.header.get("FILTER") or ""

    def band_frames(self, frames: list[CatalogFrame]) -> tuple[CatalogFrame, CatalogFrame]:
        """The blue and the red frame; OperationError naming the band that could not be opened."""
        by_key = {frame.input_key: frame for frame in frames}
        for key, label in ((BLUE, "blue"), (RED, "red")):
            if key not in by_key:
                reason = next(iter(self.skipped_frames.values()), "it could not be opened.")
                raise OperationError(f"The {label} band image could not be used: {reason}")
        return by_key[BLUE], by_key[RED]

    def preflight(self, frames: list[CatalogFrame]) -> None:
        """Mistyped coordinates and uncalibrated frames fail before Gaia is asked."""
        blue_frame, red_frame = self.band_frames(frames)
        cluster = self.cluster()
        if not (covers(blue_frame, cluster.ra, cluster.dec) or covers(red_frame, cluster.ra, cluster.dec)):
            raise OperationError("The cluster centre is outside both images; check that the cluster coordinates "
                                 "match your images.")
        for frame in (blue_frame, red_frame):
            band_stars(frame.catalog, frame.header, frame.basename)

    def measure(self, frames, report) -> TableResult:
        blue_frame, red_frame = self.band_frames(frames)
        cluster = self.cluster()
        blue = band_stars(blue_frame.catalog, blue_frame.header, blue_frame.basename)
        report(0.2, "Finished cataloguing the blue image's stars.")
        red = band_stars(red_frame.catalog, red_frame.header, red_frame.basename)
        report(0.4, "Finished cataloguing the red image's stars.")
        mid_mjd = np.mean([frame_facts(frame.header, frame.basename).mid_mjd for frame in (blue_frame, red_frame)])
        entry = colour_magnitude(blue, red, self.gaia_stars, cluster,
                                 epoch_jyear=float(Time(mid_mjd, format="mjd", scale="utc").jyear),
                                 blue_filter=self.filter_of(BLUE, blue_frame),
                                 red_filter=self.filter_of(RED, red_frame))
        report(0.95, "Finished matching the image stars to Gaia.")
        return TableResult(output_data=[output.finite(entry)],
                           downloads=[TableDownload(table=cmd_table(entry), filename="hr_diagram.ecsv")])
