"""Writes ``horizons_2026_XY1.ecsv``: a synthetic Horizons answer in the form astroquery returns.

The table has the columns, units and types of ``Horizons(...).ephemerides(quantities='1',
extra_precision=True)`` (astrometric ICRF RA/Dec in degrees at each requested UTC JD) for the
kit's object "2026 XY1", whose positions follow a known curved track. It is synthetic and says so
in its metadata; the tests render frames from its rows and read it through the same parser as a
live answer. Run ``python -m tests.photometry.horizons_answer`` to write it again.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.time import Time

from tests.photometry.kit import Track

DESIGNATION = "2026 XY1"
PATH = Path(__file__).with_name("horizons_2026_XY1.ecsv")
#: 8 frames an hour apart; the object moves 20"/h east and 9"/h north, curving by 1"/h^2.
TRACK = Track(151.2, 12.4, 2461345.70, ra_rate=20.0, dec_rate=9.0, dec_curvature=-1.0)
EPOCHS = [2461345.70 + hour / 24.0 for hour in range(8)]


def answer(track: Track = TRACK, epochs: list[float] = EPOCHS) -> Table:
    positions = [track.at(jd) for jd in epochs]
    table = Table()
    table["targetname"] = [f"{DESIGNATION} (synthetic)"] * len(epochs)
    table["datetime_str"] = [Time(jd, format="jd", scale="utc").to_datetime().strftime("%Y-%b-%d %H:%M:%S.%f")[:-3]
                             for jd in epochs]
    table["datetime_jd"] = np.array(epochs)
    table["datetime_jd"].unit = "d"
    table["H"] = np.full(len(epochs), 17.1)
    table["H"].unit = "mag"
    table["G"] = np.full(len(epochs), 0.15)
    table["solar_presence"] = [""] * len(epochs)
    table["lunar_presence"] = [""] * len(epochs)
    table["RA"] = np.array([ra for ra, _ in positions])
    table["RA"].unit = "deg"
    table["DEC"] = np.array([dec for _, dec in positions])
    table["DEC"].unit = "deg"
    table.meta["comments"] = ["Synthetic JPL Horizons answer for the photometry tests, written by "
                              "tests/photometry/horizons_answer.py in astroquery.jplhorizons' table form."]
    return table


if __name__ == "__main__":
    answer().write(PATH, format="ascii.ecsv", overwrite=True)
