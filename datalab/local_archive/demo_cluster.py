"""An open cluster for the demo sky: synthetic stars with a real cluster's position and motion.

The stars are invented; what is real is the cluster's place on the sky, its mean proper motion,
parallax and distance, so a user who knows the cluster recognises it. Members share the cluster's
proper motion and parallax and lie on a main sequence in the colour-magnitude diagram; field stars
are spread over the sky, in magnitude, colour, proper motion and distance. The truth is a Gaia
DR3-like table (epoch 2016.0) from which the demo frames take their stars and which is written as
the demo's synthetic Gaia catalogue, so frames and catalogue agree as real ones would.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from datalab.local_archive.synthetic_gaia import gaia_table, group, scatter

#: Field stars per square arcmin down to the demo frames' faint limit (the demo fields' density).
FIELD_STARS_PER_ARCMIN2 = 5.7
#: The Gaia catalogue reaches past the frames, as a real cone around the cluster would.
MIN_SKY_RADIUS_ARCMIN = 8.0


@dataclass(frozen=True)
class OpenCluster:
    """A cluster's real mean astrometry and the synthetic members drawn around it."""

    name: str
    pmra: float  # mas/yr, times cos dec
    pmdec: float  # mas/yr
    parallax: float  # mas
    distance: float  # pc
    members: int
    core_arcmin: float  # standard deviation of the members' distance from the centre
    brightest_r: float  # r magnitude range of the members' main sequence
    faintest_r: float

    def main_sequence_colour(self, r_mag: np.ndarray) -> np.ndarray:
        """g - r of a main-sequence member of r magnitude: bluer at the turn-off, redder to the faint end."""
        return 0.30 + 0.16 * (r_mag - self.brightest_r)


# M67 (NGC 2682): mean proper motion, parallax and distance as Gaia DR2/DR3 cluster studies give
# them (Cantat-Gaudin et al. 2018); members start below the turn-off, where 60 s frames saturate.
M67 = OpenCluster("M67", pmra=-10.97, pmdec=-2.94, parallax=1.135, distance=860.0, members=400,
                  core_arcmin=2.5, brightest_r=13.3, faintest_r=19.3)


def cluster_sky(cluster: OpenCluster, *, ra: float, dec: float, radius_arcmin: float, field_ra: np.ndarray,
                field_dec: np.ndarray, field_r: np.ndarray, seed: int) -> Table:
    """The Gaia-like rows of the cluster at (ra, dec) and of the given field stars (their r magnitudes).

    Members are drawn within ``radius_arcmin`` with proper motions 0.1 mas/yr, parallaxes 0.05 mas
    and distances 30 pc about the cluster's; field stars get proper motions ~ N(0, 8) mas/yr,
    parallaxes U(0.05, 3) mas and colours g - r ~ U(0.2, 1.4).
    """
    rng = np.random.default_rng(seed)
    count = cluster.members
    member_ra, member_dec = scatter(rng, count, radius_arcmin, ra=ra, dec=dec, sigma=cluster.core_arcmin)
    r_mag = rng.uniform(cluster.brightest_r, cluster.faintest_r, count)
    members = group(rng, "member", member_ra, member_dec,
                    pm=(rng.normal(cluster.pmra, 0.1, count), rng.normal(cluster.pmdec, 0.1, count)),
                    parallax=rng.normal(cluster.parallax, 0.05, count),
                    distance=rng.normal(cluster.distance, 30.0, count), spread=0.05, r_mag=r_mag,
                    g_minus_r=cluster.main_sequence_colour(r_mag) + rng.normal(0, 0.02, count),
                    ruwe=rng.uniform(0.8, 1.3, count))
    count = field_ra.size
    parallax = rng.uniform(0.05, 3.0, count)
    field = group(rng, "field", np.asarray(field_ra, dtype=float), np.asarray(field_dec, dtype=float),
                  pm=(rng.normal(0, 8, count), rng.normal(0, 8, count)), parallax=parallax,
                  distance=1000.0 / parallax, spread=0.1, r_mag=np.asarray(field_r, dtype=float),
                  g_minus_r=rng.uniform(0.2, 1.4, count), ruwe=rng.uniform(0.8, 1.3, count))
    meta = {"description": f"A synthetic Gaia DR3-like catalogue of the Datalab demo sky around {cluster.name}: "
                           "invented stars at the cluster's real position, with its mean proper motion and "
                           "parallax (datalab/local_archive/demo_cluster.py); epoch 2016.0; not real Gaia data.",
            "seed": seed}
    return gaia_table([members, field], meta=meta)


def field_star_count(radius_arcmin: float) -> int:
    return round(FIELD_STARS_PER_ARCMIN2 * math.pi * radius_arcmin**2)
