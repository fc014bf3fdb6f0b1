"""Photometry benchmark: aperture measurement, a long Variable Star series and the output size.

    python -m bench.photometry_bench                 # 10 frames 2048x2048 x 400 stars, 500-frame series, 999 frames
    python -m bench.photometry_bench --quick         # tiny sizes, as the test suite runs it

Run from the repository root: frames come from the photometry test kit (``tests/photometry/kit.py``)
and are written under ``--data-dir``. Each figure is compared with a baseline run in the same
process on the same frames:

- aperture: our vectorised measurement (centroids, clipped annulus median, exact apertures) per
  star-frame, against the reference system's approach: per-pixel Python loops, 5x5 subsampled edge
  pixels and an iterated 2-sigma annulus mean (on a subset of stars; it is slow);
- variable star: the whole operation on N catalogue frames, against the reference's per-frame work
  (astropy Table of the CAT, SkyCoord separation, Time of the date) plus ``autopower()``;
- output size: the Aperture Photometry output JSON of 999 frames x 10 comparison stars, against the
  3 MB budget.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_operations.aperture_photometry import AperturePhotometry  # noqa: E402
from data_operations.framework.tables import open_catalog_frame  # noqa: E402
from data_operations.photometry.apertures import Radii, measure  # noqa: E402
from data_operations.photometry.frame_facts import celestial_wcs, frame_facts  # noqa: E402
from data_operations.photometry.times import series_times  # noqa: E402
from data_operations.variable_star import VariableStar  # noqa: E402
from tests.photometry.kit import make_field, make_series, nightly_epochs  # noqa: E402

DEFAULT_DATA_DIR = ROOT / "var" / "bench" / "photometry"
SCALE = 0.74  # arcsec per pixel
RADII_ARCSEC = (7.64, 12.73, 19.10)  # the reference's defaults
OUTPUT_BUDGET_BYTES = 3_000_000


class BenchContext:
    """The smallest operation context: frames by basename, a scratch directory, progress ignored."""

    def __init__(self, frames, work: Path):
        self.files = {frame.basename: frame.path for frame in frames}
        self.temp_dir = work
        self.memory_budget_bytes = 1 << 30
        self.memory_limit_bytes = None
        self.provenance: dict = {}

    def input_path(self, item):
        return self.files[item["basename"]]

    def set_progress(self, fraction, message=""):
        pass


def _series(directory: Path, count: int, *, stars: int, shape: tuple[int, int], render: bool, seed: int,
            nights: int, extent: float, scale: float = SCALE, **options):
    """A seeded series of kit frames (regenerated each run: deterministic and quick beside the timings)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    field = make_field(rng, count=stars, extent_arcsec=extent, variation=(0.2, 0.41, 2461345.0),
                       mags=(12.0, 17.0))
    per_night = max(1, math.ceil(count / nights))
    times = nightly_epochs(rng, nights=nights, per_night=per_night, ra=field.ra, spacing_hours=0.6)[:count]
    return field, make_series(directory, field, times, rng, render=render, shape=shape, scale=scale,
                              fwhm_px=2.0 / scale, zero_point0=25.0, **options)


# --- the reference's approach, for the baseline ----------------------------------------------------
def reference_measure(image: np.ndarray, x: float, y: float, r: float, r_in: float, r_out: float) -> float:
    """Net counts with per-pixel Python loops, as the reference computes them (centres at i + 0.5)."""
    x, y = x + 0.5, y + 0.5
    box = int(math.ceil(r_out)) + 1
    ix, iy = int(x), int(y)
    ring = []
    for j in range(iy - box, iy + box + 1):
        for i in range(ix - box, ix + box + 1):
            d = math.hypot(i + 0.5 - x, j + 0.5 - y)
            if r_in <= d <= r_out:
                ring.append(float(image[j, i]))
    mean = sum(ring) / len(ring)
    for _ in range(9):
        sd = math.sqrt(sum((v - mean) ** 2 for v in ring) / len(ring))
        kept = [v for v in ring if abs(v - mean) <= 2 * sd]
        new = sum(kept) / len(kept)
        done = abs(new - mean) < 0.1
        ring, mean = kept, new
        if done:
            break
    total = area = 0.0
    reach = int(math.ceil(r)) + 1
    for j in range(iy - reach, iy + reach + 1):
        for i in range(ix - reach, ix + reach + 1):
            corners = [math.hypot(i + a - x, j + b - y) for a in (0, 1) for b in (0, 1)]
            if max(corners) <= r:
                weight = 1.0
            elif min(corners) > r and not (i <= x <= i + 1 or j <= y <= j + 1):
                weight = 0.0
            else:
                weight = sum(math.hypot(i + (a + 0.5) / 5 - x, j + (b + 0.5) / 5 - y) <= r
                             for a in range(5) for b in range(5)) / 25
            total += weight * float(image[j, i])
            area += weight
    return total - max(mean, 0.0) * area


def bench_aperture(data_dir: Path, frames: int, stars: int, side: int, baseline_stars: int) -> list[str]:
    _, series = _series(data_dir / f"aperture-{side}-{stars}", frames, stars=stars, shape=(side, side), render=True,
                        seed=1, nights=1, extent=side * SCALE * 0.45, with_bpm=True)
    radii = Radii(*(value / SCALE for value in RADII_ARCSEC))
    read_measure, measure_only, baseline = [], [], []
    for index, truth in enumerate(series):
        start = time.perf_counter()
        frame = open_catalog_frame(truth.path, truth.basename)
        planes = frame.planes()
        wcs = celestial_wcs(frame.header)
        x, y = wcs.world_to_pixel_values(frame.catalog["ra"], frame.catalog["dec"])
        begun = time.perf_counter()
        measure(planes.image, x, y, radii, bad=planes.bad, error=planes.error, centroid_sigma=2.0 / SCALE / 2.3548)
        done = time.perf_counter()
        read_measure.append((done - start) / len(x))
        measure_only.append((done - begun) / len(x))
        if index == 0:
            chosen = [i for i in range(len(x)) if radii.outer + 2 < x[i] < side - radii.outer - 2
                      and radii.outer + 2 < y[i] < side - radii.outer - 2][:baseline_stars]
            begun = time.perf_counter()
            for i in chosen:
                reference_measure(planes.image, float(x[i]), float(y[i]), radii.aperture, radii.inner, radii.outer)
            baseline.append((time.perf_counter() - begun) / len(chosen))
    ours, ours_read, reference = (statistics.mean(v) * 1000 for v in (measure_only, read_measure, baseline))
    return [f"| aperture, {frames}x{side}^2, {len(x)} stars | ms per star-frame (measure) | {ours:.3f} | "
            f"{reference:.1f} | {reference / ours:.0f}x |",
            f"| aperture, {frames}x{side}^2, {len(x)} stars | ms per star-frame (read + measure) | {ours_read:.3f} | "
            f"{reference:.1f} | {reference / ours_read:.0f}x |"]


def reference_variable_star(series, ra: float, dec: float) -> float:
    """The reference's per-frame catalogue work and period search; returns its period."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.table import Table
    from astropy.time import Time
    from astropy.timeseries import LombScargle
    target = SkyCoord(ra * u.deg, dec * u.deg)
    t, m, e = [], [], []
    for truth in series:
        with fits.open(truth.path) as hdul:
            table = Table(hdul["CAT"].data)
            date = hdul["SCI"].header["DATE-OBS"]
        coords = SkyCoord(table["ra"] * u.deg, table["dec"] * u.deg)
        best = int(np.argmin(coords.separation(target).arcsec))
        t.append(Time(date).jd)
        m.append(float(table["mag"][best]))
        e.append(float(table["magerr"][best]))
    frequency, power = LombScargle(t, m, e).autopower()
    return 1 / frequency[np.argmax(power)]


def bench_variable_star(data_dir: Path, frames: int, stars: int) -> list[str]:
    field, series = _series(data_dir / f"series-{frames}-{stars}", frames, stars=stars, shape=(512, 512),
                            render=False, seed=2, nights=max(8, frames // 10), extent=180.0, cat_mag_noise=0.01)
    work = data_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    items = [{"source": "archive", "basename": truth.basename, "filter": "rp"} for truth in series]
    operation = VariableStar({"source": {"ra": field.ra, "dec": field.dec}, "input_files": items})
    # A worker loads astropy's Earth-orientation tables once per process; measured apart.
    begun = time.perf_counter()
    series_times([frame_facts(open_catalog_frame(series[0].path, series[0].basename).header)], field.ra, field.dec)
    load = time.perf_counter() - begun
    begun = time.perf_counter()
    [entry] = operation.operate(BenchContext(series, work)).output_data
    ours = time.perf_counter() - begun
    begun = time.perf_counter()
    reference_variable_star(series, field.ra, field.dec)
    reference = time.perf_counter() - begun
    return [f"| variable star, {frames} frames, {stars + 1} CAT rows | s for the operation (period "
            f"{entry.get('period', float('nan')):.4f} d) | {ours:.2f} | {reference:.2f} | {reference / ours:.1f}x |",
            f"| once per worker process | s to load astropy's Earth-orientation tables | {load:.2f} | | |"]


def bench_output_size(data_dir: Path, frames: int) -> list[str]:
    field, series = _series(data_dir / f"output-{frames}", frames, stars=14, shape=(160, 160), render=True, seed=3,
                            nights=max(8, frames // 20), extent=55.0, scale=1.0)
    work = data_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    items = [{"source": "archive", "basename": truth.basename, "filter": "rp"} for truth in series]
    operation = AperturePhotometry({"source": {"ra": field.ra, "dec": field.dec}, "input_files": items,
                                    "aperture_radius": 4.0, "annulus_inner_radius": 8.0, "annulus_outer_radius": 13.0})
    [entry] = operation.operate(BenchContext(series, work)).output_data
    size = len(json.dumps(entry, allow_nan=False).encode())
    comparisons = len(entry["selected_comparison_stars"])
    return [f"| output JSON, {len(entry['light_curve'])} frames x {comparisons} comparisons | MB | "
            f"{size / 1e6:.2f} | {OUTPUT_BUDGET_BYTES / 1e6:.2f} (budget) | {OUTPUT_BUDGET_BYTES / size:.1f}x |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.photometry_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (runs in seconds)")
    parser.add_argument("--frames", type=int, default=10, help="frames for the aperture benchmark")
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--stars", type=int, default=400)
    parser.add_argument("--series", type=int, default=500, help="frames of the Variable Star series")
    parser.add_argument("--output-frames", type=int, default=999)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.side, args.stars, args.series, args.output_frames = 2, 256, 20, 12, 12
    rows = ["| benchmark | unit | ours | baseline | baseline / ours |", "|---|---|---|---|---|"]
    rows += bench_aperture(args.data_dir, args.frames, args.stars, args.side, baseline_stars=5 if args.quick else 20)
    rows += bench_variable_star(args.data_dir, args.series, 300 if not args.quick else 20)
    rows += bench_output_size(args.data_dir, args.output_frames)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
