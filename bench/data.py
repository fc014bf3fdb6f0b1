"""Benchmark inputs: realistic Rice-compressed frames from the project's synthetic generator, cached.

Frames are made by ``datalab.local_archive.synthetic.make_frame`` (sky with a gradient, Poisson and
read noise, stars, cosmic rays, a TAN WCS, Rice-compressed float32 ``SCI`` and a ``CAT`` table), the
same generator the demo archive and the tests use. Each frame is deterministic in its size and
index, so the cache under the data directory (default ``var/bench``, git-ignored) is reused across
runs and only missing frames are generated, in parallel on all cores.

Dithered frames (``dithered=True``, for the aligned pipelines) point a few pixels apart, as an
observatory nodding between exposures does: frame ``i`` is offset by ``DITHER_PIXELS[i % 8]``.
They are cached apart from the undithered ones.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from datalab.local_archive.synthetic import DEFAULT_PIXEL_SCALE_ARCSEC, make_frame, write_frame

DEFAULT_DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR", Path(__file__).resolve().parent.parent / "var" / "bench"))
STARS_PER_MEGAPIXEL = 60  # a moderately crowded field: ~1000 stars on a 4096x4096 chip


FRAME_LAYOUT = "rice-dither1"  # part of the cache path: frames made by another generator are not reused
DITHERED_LAYOUT = "rice-dither1-nod"
# Pointing offsets (x, y) in pixels of a nodding pattern of about ten pixels; the first is the reference.
DITHER_PIXELS = ((0.0, 0.0), (10.3, -6.8), (-8.6, 9.1), (6.2, 11.7), (-11.4, -4.3), (3.9, -10.6), (-5.1, 4.8),
                 (9.7, 3.2))
RA, DEC = 202.4696, 47.1952  # the generator's default field


def frame_path(data_dir: Path, shape: tuple[int, int], index: int, dithered: bool = False) -> Path:
    ny, nx = shape
    layout = DITHERED_LAYOUT if dithered else FRAME_LAYOUT
    return Path(data_dir) / f"{nx}x{ny}-{layout}" / f"frame-{index:04d}.fits"


def _make_one(path: Path, index: int, shape: tuple[int, int], dithered: bool = False) -> Path:
    n_stars = max(20, int(STARS_PER_MEGAPIXEL * shape[0] * shape[1] / 1e6))
    pointing = {}
    if dithered:  # north up, east left: +x is west (lower RA), +y is north
        dx, dy = DITHER_PIXELS[index % len(DITHER_PIXELS)]
        scale = DEFAULT_PIXEL_SCALE_ARCSEC / 3600.0
        pointing = {"ra": RA - dx * scale / math.cos(math.radians(DEC)), "dec": DEC + dy * scale}
    frame = make_frame(shape=shape, seed=10_000 + index, frame_number=index + 1, n_stars=n_stars,
                       basename=f"bench{shape[1]}x{shape[0]}-{index:04d}-e91", **pointing)
    return write_frame(frame, path)


def ensure_frames(count: int, shape: tuple[int, int], data_dir: Path = DEFAULT_DATA_DIR,
                  workers: int | None = None, dithered: bool = False) -> list[Path]:
    """Paths of ``count`` cached frames of ``shape`` (ny, nx), generating the missing ones."""
    paths = [frame_path(data_dir, shape, index, dithered) for index in range(count)]
    missing = [(path, index) for index, path in enumerate(paths) if not path.exists()]
    if missing:
        workers = workers or os.cpu_count() or 1
        kind = "dithered frame(s)" if dithered else "frame(s)"
        print(f"generating {len(missing)} {kind} of {shape[1]}x{shape[0]} under {data_dir} ...", flush=True)
        if workers == 1 or len(missing) == 1:
            for path, index in missing:
                _make_one(path, index, shape, dithered)
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(missing))) as pool:
                list(pool.map(_make_one, *zip(*missing, strict=True), [shape] * len(missing),
                              [dithered] * len(missing)))
    return paths
