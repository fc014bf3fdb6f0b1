"""A seeded synthetic open cluster: the Gaia-like fixture and the two frames' catalogues built from one truth.

Run ``python -m tests.photometry.cluster_field`` to write ``tests/fixtures/gaia_cluster_synthetic.ecsv``
(never edit the file by hand; a test checks it equals what this module builds).

The sky around (RA 120, Dec -30), searched within 6 arcmin:
- 150 cluster members at pm (-5.0, +3.0) +- 0.1 mas/yr, parallax 1.25 +- 0.05 mas, distance
  800 +- 30 pc (r_lo/r_hi at -+5 %), colours on a simple main sequence;
- 300 field stars within 7.5 arcmin, pm ~ N(0, 8) mas/yr, parallax ~ U(0.05, 3) mas, distance
  1000/parallax pc; two in three of those inside the search radius are on the frames;
- 10 stars with no proper motion, parallax or distance (two-parameter solutions), on the frames;
- 5 stars with RUWE > 1.4, on the frames (the RUWE cut drops them from Gaia);
- 1 star with pm (200, -100) mas/yr, on the frames where it has moved to by 2026.3 (2.30 arcsec);
- 20 Gaia sources off the frames, 8 of them without synthetic photometry;
- one star saturated on the red frame and one flagged on the blue frame (both in Gaia);
- frame-only stars: 3 on the blue frame only, 2 on the red only, a blended pair 1 arcsec apart,
  4 outside the search radius.
Frame magnitudes are Gaia's synthetic SDSS g/r + N(0, 0.02); frame positions are the Gaia
positions moved linearly to the frame epoch, + N(0, 0.05) arcsec per band.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.time import Time

from datalab.local_archive.synthetic_gaia import gaia_table, group, moved, scatter
from tests.photometry.kit import FrameTruth, make_catalog_frame

SEED = 2808
RA, DEC = 120.0, -30.0
SEARCH_RADIUS_ARCMIN = 6.0
FIELD_RADIUS_ARCMIN = 7.5
EPOCH_JYEAR = 2026.3
CLUSTER_PM, CLUSTER_PARALLAX, CLUSTER_DISTANCE = (-5.0, 3.0), 1.25, 800.0
HIGH_PM = (200.0, -100.0)
SATURATE = 60000.0
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gaia_cluster_synthetic.ecsv"


@dataclass
class ClusterTruth:
    """The Gaia rows (epoch 2016.0) and, per frame-catalogued star, its role and Gaia row (-1: none)."""

    gaia: Table
    image: Table


def _offset(rng: np.random.Generator, count: int, radius_arcmin: float, *, minimum: float = 0.0,
            sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    return scatter(rng, count, radius_arcmin, ra=RA, dec=DEC, minimum=minimum, sigma=sigma)


def build(seed: int = SEED) -> ClusterTruth:
    rng = np.random.default_rng(seed)
    groups = []
    # Cluster members.
    n = 150
    ra, dec = _offset(rng, n, 5.0, sigma=1.5)
    r_mag = rng.uniform(12.5, 18.5, n)
    groups.append(group(rng, "cluster", ra, dec, pm=(rng.normal(CLUSTER_PM[0], 0.1, n), rng.normal(CLUSTER_PM[1],
                                                                                                      0.1, n)),
                         parallax=rng.normal(CLUSTER_PARALLAX, 0.05, n), distance=rng.normal(CLUSTER_DISTANCE, 30, n),
                         spread=0.05, r_mag=r_mag, g_minus_r=0.25 + 0.11 * (r_mag - 12.5) + rng.normal(0, 0.02, n),
                         ruwe=rng.uniform(0.8, 1.3, n)))
    # Field stars (imaged or not, decided below by position and index).
    n = 300
    ra, dec = _offset(rng, n, FIELD_RADIUS_ARCMIN)
    parallax = rng.uniform(0.05, 3.0, n)
    groups.append(group(rng, "field", ra, dec, pm=(rng.normal(0, 8, n), rng.normal(0, 8, n)), parallax=parallax,
                         distance=1000.0 / parallax, spread=0.1, r_mag=rng.uniform(12.0, 19.0, n),
                         g_minus_r=rng.uniform(0.2, 1.4, n), ruwe=rng.uniform(0.8, 1.3, n)))
    # Two-parameter solutions: no proper motion, parallax or distance.
    n = 10
    ra, dec = _offset(rng, n, 5.5)
    nothing = np.full(n, np.nan)
    groups.append(group(rng, "no_astrometry", ra, dec, pm=(nothing, nothing), parallax=nothing, distance=nothing,
                         spread=0.0, r_mag=rng.uniform(17.0, 19.0, n), g_minus_r=rng.uniform(0.2, 1.4, n),
                         ruwe=rng.uniform(0.8, 1.3, n)))
    # Poor astrometry.
    n = 5
    ra, dec = _offset(rng, n, 5.5)
    parallax = rng.uniform(0.2, 2.0, n)
    groups.append(group(rng, "high_ruwe", ra, dec, pm=(rng.normal(0, 8, n), rng.normal(0, 8, n)), parallax=parallax,
                         distance=1000.0 / parallax, spread=0.1, r_mag=rng.uniform(13.0, 17.0, n),
                         g_minus_r=rng.uniform(0.2, 1.4, n), ruwe=rng.uniform(1.5, 3.0, n)))
    # A nearby fast mover.
    ra, dec = _offset(rng, 1, 4.0, minimum=2.0)
    groups.append(group(rng, "high_pm", ra, dec, pm=(np.array([HIGH_PM[0]]), np.array([HIGH_PM[1]])),
                         parallax=np.array([40.0]), distance=np.array([25.0]), spread=0.01,
                         r_mag=np.array([13.5]), g_minus_r=np.array([1.1]), ruwe=np.array([1.0])))
    # Gaia sources off the frames (too faint for them), 8 without synthetic photometry.
    n = 20
    ra, dec = _offset(rng, n, 5.5)
    parallax = rng.uniform(0.1, 2.0, n)
    groups.append(group(rng, "gaia_only", ra, dec, pm=(rng.normal(0, 8, n), rng.normal(0, 8, n)), parallax=parallax,
                         distance=1000.0 / parallax, spread=0.1, r_mag=rng.uniform(19.5, 20.5, n),
                         g_minus_r=rng.uniform(0.2, 1.4, n), ruwe=rng.uniform(0.8, 1.3, n)))
    # Stars the frames lose: saturated in red, flagged in blue.
    ra, dec = _offset(rng, 2, 5.0, minimum=1.0)
    parallax = np.array([2.0, 0.8])
    groups.append(group(rng, "lost", ra, dec, pm=(rng.normal(0, 8, 2), rng.normal(0, 8, 2)), parallax=parallax,
                         distance=1000.0 / parallax, spread=0.1, r_mag=np.array([10.5, 14.0]),
                         g_minus_r=np.array([0.6, 0.7]), ruwe=np.array([1.0, 1.0])))
    gaia = _gaia_table(groups)
    return ClusterTruth(gaia=gaia, image=_image_table(gaia, rng))


def _gaia_table(groups: list[dict[str, np.ndarray]]) -> Table:
    roles = np.concatenate([rows["role"] for rows in groups])
    no_photometry = np.zeros(roles.size, dtype=bool)
    no_photometry[np.flatnonzero(roles == "gaia_only")[:8]] = True
    meta = {"description": "Synthetic Gaia DR3-like cone for the HR Diagram tests (tests/photometry/"
                           "cluster_field.py); epoch 2016.0; not real data.", "seed": SEED}
    return gaia_table(groups, meta=meta, no_photometry=no_photometry)


def separation_arcmin(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Small-angle distance from the cluster centre (arcmin): the generator's own geometry."""
    return np.hypot((np.asarray(ra) - RA) * math.cos(math.radians(DEC)), np.asarray(dec) - DEC) * 60


def _image_table(gaia: Table, rng: np.random.Generator) -> Table:
    roles = np.asarray(gaia["role"])
    inside = separation_arcmin(gaia["ra"], gaia["dec"]) <= SEARCH_RADIUS_ARCMIN
    field = np.flatnonzero(roles == "field")
    imaged = np.concatenate([np.flatnonzero(np.isin(roles, ["cluster", "no_astrometry", "high_ruwe", "high_pm",
                                                            "lost"])),
                             field[inside[field] & (np.arange(field.size) % 3 != 0)]])
    ra, dec = moved(gaia, EPOCH_JYEAR, imaged)
    g_mag = np.asarray(gaia["g_sdss_mag"][imaged], dtype=float)
    r_mag = np.asarray(gaia["r_sdss_mag"][imaged], dtype=float)
    image = Table({"role": roles[imaged], "gaia_row": imaged, "ra": ra, "dec": dec, "g_sdss": g_mag, "r_sdss": r_mag})
    extras = [("blue_only", 3, 5.0, 0.0), ("red_only", 2, 5.0, 0.0), ("outside", 4, 6.6, 6.3)]
    for role, count, radius, minimum in extras:
        extra_ra, extra_dec = _offset(rng, count, radius, minimum=minimum)
        if role == "outside":  # along the axes, so they stay on the frames
            angle = np.array([0.0, 0.5, 1.0, 1.5]) * math.pi
            r = rng.uniform(minimum, radius, count)
            extra_ra = RA + r * np.cos(angle) / 60 / math.cos(math.radians(DEC))
            extra_dec = DEC + r * np.sin(angle) / 60
        mags = rng.uniform(13.0, 17.0, count)
        for index in range(count):
            image.add_row((role, -1, extra_ra[index], extra_dec[index], mags[index] + 0.6, mags[index]))
    pair_ra, pair_dec = _offset(rng, 1, 4.0, minimum=2.0)
    for shift in (0.0, 1.0 / 3600):
        image.add_row(("blend", -1, pair_ra[0], pair_dec[0] + shift, 15.6, 15.0))
    count = len(image)
    for band in ("blue", "red"):
        image[f"ra_{band}"] = image["ra"] + rng.normal(0, 0.05, count) / 3600 / math.cos(math.radians(DEC))
        image[f"dec_{band}"] = image["dec"] + rng.normal(0, 0.05, count) / 3600
        image[f"mag_{band}"] = image["g_sdss" if band == "blue" else "r_sdss"] + rng.normal(0, 0.02, count)
        image[f"magerr_{band}"] = 0.005 + 0.01 * 10 ** (0.4 * (image[f"mag_{band}"] - 17.0))
    lost = np.flatnonzero(image["role"] == "lost")
    image["peak_red"] = np.where(np.arange(count) == lost[0], SATURATE * 1.2, 1000.0)
    image["flag_blue"] = np.where(np.arange(count) == lost[1], 4, 0)
    image["on_blue"] = image["role"] != "red_only"
    image["on_red"] = image["role"] != "blue_only"
    return image


def write_fixture(path: Path = FIXTURE, seed: int = SEED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    build(seed).gaia.write(path, format="ascii.ecsv", overwrite=True)
    return path


def write_frames(directory: Path, truth: ClusterTruth) -> tuple[FrameTruth, FrameTruth]:
    """The gp and rp frames (mid-exposure at the 2026.3 epoch) whose catalogues hold the imaged stars."""
    mid_jd = float(Time(EPOCH_JYEAR, format="jyear", scale="utc").jd)
    image = truth.image
    frames = []
    for band, filter_name, offset in (("blue", "gp", -0.01), ("red", "rp", 0.01)):
        on = np.asarray(image[f"on_{band}"])
        catalog = {"ra": np.asarray(image[f"ra_{band}"])[on], "dec": np.asarray(image[f"dec_{band}"])[on],
                   "mag": np.asarray(image[f"mag_{band}"])[on], "magerr": np.asarray(image[f"magerr_{band}"])[on]}
        if band == "red":
            catalog["peak"] = np.asarray(image["peak_red"])[on]
        else:
            catalog["flag"] = np.asarray(image["flag_blue"])[on]
        frames.append(make_catalog_frame(directory, f"elp1m008-fa05-20260420-00{12 + len(frames)}-e91", ra=RA, dec=DEC,
                                         mid_jd=mid_jd + offset, catalog=catalog, filter_name=filter_name,
                                         saturate=SATURATE))
    return frames[0], frames[1]


if __name__ == "__main__":
    print(write_fixture())
