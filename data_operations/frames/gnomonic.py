"""Sky positions of pixels on plain gnomonic (TAN) frames, straight from the header keywords.

Warning that frames combined pixel by pixel point at different skies needs one pixel-to-sky
conversion per frame. astropy's ``WCS`` does that too, but importing it costs ~0.22 s (it loads
``astropy.coordinates``): more than the rest of a Median's finishing work. Archive frames carry a
plain TAN projection with a linear CD (or PC/CDELT) matrix and no distortion terms, and those are
converted here, following Calabretta & Greisen 2002 (A&A 395, 1077), sections 2-3 and 5.1.3. A
header with anything else (other projections, SIP/TPV distortions, CROTA, axes in other units or
order, a non-default LONPOLE) gives ``None``, and the caller falls back to astropy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from astropy.io import fits

DEFAULT_LONPOLE = 180.0  # zenithal projections, reference point not at the pole
# Keywords that add distortion or a non-linear part to the projection.
DISTORTION_PREFIXES = ("A_", "B_", "AP_", "BP_", "PV1_", "PV2_", "PROJP", "D2IM", "CPDIS", "CQDIS", "DP1", "DP2")


@dataclass(frozen=True)
class GnomonicProjection:
    """A TAN projection: reference pixel (1-based), linear matrix (degrees/pixel), reference sky point."""

    crpix: tuple[float, float]
    matrix: tuple[tuple[float, float], tuple[float, float]]
    crval: tuple[float, float]  # (ra, dec) in degrees

    @classmethod
    def from_header(cls, header: fits.Header) -> GnomonicProjection | None:
        """The projection when ``header`` holds a plain TAN WCS this module handles, else None."""
        try:
            if (str(header.get("CTYPE1", "")).strip() != "RA---TAN"
                    or str(header.get("CTYPE2", "")).strip() != "DEC--TAN"
                    or int(header.get("WCSAXES", 2)) != 2
                    or any(str(header.get(f"CUNIT{axis}", "deg")).strip().lower() != "deg" for axis in (1, 2))
                    or float(header.get("LONPOLE", DEFAULT_LONPOLE)) != DEFAULT_LONPOLE
                    or any(key.startswith(DISTORTION_PREFIXES) or key.startswith("CROTA") for key in header)):
                return None
            crpix = (float(header["CRPIX1"]), float(header["CRPIX2"]))
            crval = (float(header["CRVAL1"]), float(header["CRVAL2"]))
            if any(f"CD{i}_{j}" in header for i in (1, 2) for j in (1, 2)):
                matrix = tuple(tuple(float(header.get(f"CD{i}_{j}", 0.0)) for j in (1, 2)) for i in (1, 2))
            else:
                scale = (float(header["CDELT1"]), float(header["CDELT2"]))
                matrix = tuple(tuple(scale[i - 1] * float(header.get(f"PC{i}_{j}", 1.0 if i == j else 0.0))
                                     for j in (1, 2)) for i in (1, 2))
        except (KeyError, ValueError, TypeError):
            return None
        values = [*crpix, *crval, *matrix[0], *matrix[1]]
        determinant = matrix[0][0] * matrix[1][1] - matrix[0][1] * matrix[1][0]
        if not all(math.isfinite(value) for value in values) or determinant == 0 or abs(crval[1]) >= 90.0:
            return None
        return cls(crpix=crpix, matrix=matrix, crval=crval)

    def sky(self, x: float, y: float) -> tuple[float, float]:
        """(ra, dec) in degrees of the 0-based pixel (x, y)."""
        dx, dy = x + 1.0 - self.crpix[0], y + 1.0 - self.crpix[1]
        (a, b), (c, d) = self.matrix
        u, v = a * dx + b * dy, c * dx + d * dy  # intermediate world coordinates, degrees
        phi = math.atan2(u, -v)  # native longitude
        theta = math.atan2(180.0 / math.pi, math.hypot(u, v))  # native latitude: R = (180/pi) cot(theta)
        ra0, dec0 = math.radians(self.crval[0]), math.radians(self.crval[1])
        dphi = phi - math.radians(DEFAULT_LONPOLE)
        dec = math.asin(math.sin(theta) * math.sin(dec0) + math.cos(theta) * math.cos(dec0) * math.cos(dphi))
        ra = ra0 + math.atan2(-math.cos(theta) * math.sin(dphi),
                              math.sin(theta) * math.cos(dec0) - math.cos(theta) * math.sin(dec0) * math.cos(dphi))
        return math.degrees(ra) % 360.0, math.degrees(dec)

    @property
    def pixel_scale_degrees(self) -> float:
        """Mean size of one pixel on the sky at the reference point (the mean of the two axes' scales)."""
        (a, b), (c, d) = self.matrix
        return (math.hypot(a, c) + math.hypot(b, d)) / 2.0
