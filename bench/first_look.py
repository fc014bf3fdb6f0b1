"""First ``raw-data`` answer on an uncached frame, timed inside a fresh process (imports excluded).

    python -m bench.first_look VARIANT FRAME MAX_SIZE CACHE_DIR

Variants: ``ours`` (FrameProducts.raw_data_json on an empty cache, as the analysis endpoint runs it);
``previous`` (the former path, rebuilt here from the project's helpers: decode the whole image, write
it to the pixels cache file, re-read it for zscale and maxima, area-average it with the sparse overlap
weights, encode a list of floats with json); ``floor`` (decode the frame band by band and nothing
else). Prints one JSON line: ``wall_s`` and the answer's size in bytes.
"""
from __future__ import annotations

import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from data_operations.analysis import imaging
from data_operations.analysis.resample import STRIP_ROWS, overlap_weights
from data_operations.frames.reader import FrameStack
from data_operations.frames.single import read_image
from data_operations.products import zscale_limits
from datalab.analysis.products import HISTOGRAM_BINS, FrameProducts
from datalab.archive.frame_cache import FrameCache


def _sparse_area_average(data: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    row_weights = overlap_weights(data.shape[0], shape[0]).tocsc()
    column_weights = overlap_weights(data.shape[1], shape[1])
    totals, areas = np.zeros(shape), np.zeros(shape)
    for first in range(0, data.shape[0], STRIP_ROWS):
        strip = np.asarray(data[first:first + STRIP_ROWS], dtype=np.float64)
        finite = np.isfinite(strip)
        strip[~finite] = 0.0
        strip_rows = row_weights[:, first:first + strip.shape[0]]
        totals += strip_rows @ (column_weights @ strip.T).T
        areas += strip_rows @ (column_weights @ finite.astype(np.float64).T).T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(areas > 1e-9, totals / np.where(areas > 0, areas, 1.0), np.nan).astype(np.float32)


def previous(frame: Path, max_size: int, cache_dir: Path) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image, _ = read_image(frame, frame.name)
    np.save(cache_dir / "pixels.npy", image, allow_pickle=False)
    del image
    pixels = np.load(cache_dir / "pixels.npy", mmap_mode="r")
    low, high = zscale_limits(pixels)
    maximum, magnitude = -math.inf, 0.0
    for first in range(0, pixels.shape[0], 512):
        finite = pixels[first:first + 512][np.isfinite(pixels[first:first + 512])]
        if finite.size:
            maximum, magnitude = max(maximum, float(finite.max())), max(magnitude, float(np.abs(finite).max()))
    averaged = _sparse_area_average(pixels, (max_size, max_size))[::-1]
    counts, centres = imaging.histogram(averaged, bins=HISTOGRAM_BINS,
                                        limits=imaging.histogram_limits(averaged, (low, high)))
    answer = {"data": imaging.finite_list(averaged, decimals=imaging.display_decimals(magnitude)),
              "histogram": counts, "bins": centres, "zmin": low, "zmax": high,
              "bitdepth": imaging.bitdepth_for(maximum)}
    return json.dumps(answer, allow_nan=False, separators=(",", ":")).encode()


def ours(frame: Path, max_size: int, cache_dir: Path) -> bytes:
    products = FrameProducts(fits_path=frame, identity=f"{frame.name}-{frame.stat().st_size}",
                             cache=FrameCache(directory=cache_dir, max_bytes=1 << 34), label=frame.name)
    return products.raw_data_json(max_size)


def floor(frame: Path, max_size: int, cache_dir: Path) -> bytes:
    with FrameStack([frame]) as stack:
        for _ in stack.bands(1024):
            pass
    return b""


VARIANTS = {"ours": ours, "previous": previous, "floor": floor}


def main(argv: list[str]) -> None:
    variant, frame, max_size, cache_dir = argv
    started, cpu_started = time.perf_counter(), time.process_time()
    answer = VARIANTS[variant](Path(frame), int(max_size), Path(cache_dir))
    print(json.dumps({"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_started,
                      "bytes": len(answer)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
