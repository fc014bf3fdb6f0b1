"""Plain TAN headers converted from their keywords agree with astropy's WCS; other WCSs are left to it."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from data_operations.frames.alignment import pointing_offsets
from data_operations.frames.gnomonic import GnomonicProjection
from data_operations.frames.reader import FrameInfo


def tan_header(ra: float, dec: float, rotation_deg: float, scale_arcsec: float, *, flip: bool = True,
               cd: bool = True) -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [2048.5, 2047.0]
    angle = math.radians(rotation_deg)
    scale = scale_arcsec / 3600.0
    wcs.wcs.cdelt = [-scale if flip else scale, scale]
    wcs.wcs.pc = [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    header = wcs.to_header()
    if cd:
        matrix = wcs.wcs.get_cdelt()[:, None] * wcs.wcs.get_pc()
        for key in ("CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2"):
            header.remove(key, ignore_missing=True)
        for i in (1, 2):
            for j in (1, 2):
                header[f"CD{i}_{j}"] = float(matrix[i - 1, j - 1])
    return header


def angular_distance_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    ra1, dec1, ra2, dec2 = (math.radians(value) for value in (*a, *b))
    haversine = math.sin((dec2 - dec1) / 2) ** 2 + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    return math.degrees(2 * math.asin(math.sqrt(haversine)))  # exact for tiny angles, unlike acos


@pytest.mark.parametrize("cd", [True, False])
def test_sky_positions_equal_astropy(cd):
    rng = np.random.default_rng(1 if cd else 2)
    for _ in range(60):
        header = tan_header(float(rng.uniform(0, 360)), float(rng.uniform(-85, 85)), float(rng.uniform(-180, 180)),
                            float(rng.uniform(0.2, 2.5)), flip=bool(rng.integers(2)), cd=cd)
        projection = GnomonicProjection.from_header(header)
        assert projection is not None
        wcs = WCS(header)
        for x, y in rng.uniform(-3000, 7000, size=(5, 2)):
            expected = tuple(float(value) for value in wcs.pixel_to_world_values(x, y))
            assert angular_distance_deg(projection.sky(x, y), expected) < 1e-9
            assert 0.0 <= projection.sky(x, y)[0] < 360.0
        scales = np.sqrt((wcs.pixel_scale_matrix ** 2).sum(axis=0))
        assert projection.pixel_scale_degrees == pytest.approx(float(np.mean(scales)), rel=1e-12)


def test_ra_wraps_through_zero():
    projection = GnomonicProjection.from_header(tan_header(359.999, 10.0, 0.0, 1.0))
    west, east = projection.sky(0.0, 2046.0), projection.sky(4096.0, 2046.0)
    assert west[0] < 1.0 and east[0] > 359.0  # RA grows to the east (left, with the usual flip)


@pytest.mark.parametrize("change", [
    {"CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN"},
    {"CTYPE1": "RA---TAN-SIP", "CTYPE2": "DEC--TAN-SIP", "A_ORDER": 2, "B_ORDER": 2},
    {"PV2_1": 0.0},
    {"CROTA2": 10.0},
    {"LONPOLE": 0.0},
    {"CUNIT1": "arcsec"},
    {"CRVAL2": 90.0},
    {"CD1_1": 0.0, "CD1_2": 0.0},
])
def test_other_wcs_headers_are_left_to_astropy(change):
    header = tan_header(150.0, 2.0, 30.0, 0.4)
    header.update(change)
    assert GnomonicProjection.from_header(header) is None


def test_missing_keywords_are_left_to_astropy():
    header = tan_header(150.0, 2.0, 30.0, 0.4)
    del header["CRVAL1"]
    assert GnomonicProjection.from_header(header) is None


def test_pointing_offsets_are_the_same_either_way():
    """Offsets from the keywords equal those astropy gives for the same headers."""
    rng = np.random.default_rng(5)
    base = tan_header(210.8, 54.3, 12.0, 0.39)
    headers = [base]
    for _ in range(4):
        shifted = base.copy()
        shifted["CRVAL1"] += float(rng.normal(0, 0.01))
        shifted["CRVAL2"] += float(rng.normal(0, 0.01))
        headers.append(shifted)

    def frames(with_headers):
        return [FrameInfo(path=Path(f"f{index}.fits"), display_name=f"f{index}", shape=(4096, 4096), header=header)
                for index, header in enumerate(with_headers)]

    fast = pointing_offsets(frames(headers), (4000, 4096))
    through_astropy = [header.copy() for header in headers]
    for header in through_astropy:
        header["PV2_1"] = 0.0  # TAN takes no parameters: the same projection, but not handled here
    slow = pointing_offsets(frames(through_astropy), (4000, 4096))
    assert set(fast) == {"f1", "f2", "f3", "f4"} and set(slow) == set(fast)
    for name in fast:
        assert fast[name] == pytest.approx(slow[name], abs=1e-6)
        assert fast[name] > 10  # ~0.01 degree at 0.39"/pixel: about a hundred pixels
