"""The pipelines the benchmark times, each run by ``python -m bench.child`` in a fresh process.

- ``ours``: the real ``Median`` operation's worker-side work (read the cached inputs, combine,
  write the FITS product and both JPEGs) through a minimal operation context.
- ``baseline``: what the reference system does: load every frame fully with astropy, ``np.stack``,
  ``np.median``, write with astropy's default tile compression, and make the JPEGs from a
  full-size zscaled float image.
- ``floor``: the least any pipeline must do: decode every input once on all cores, then write the
  output with the project's writer.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

MEMORY_BUDGET_BYTES = 256 * 1024 * 1024  # the service default (OPERATION_MEMORY_BUDGET_BYTES)


class BenchContext:
    """An ``OperationContext`` over local files: no archive, no database, progress ignored."""

    def __init__(self, paths: list[Path], temp_dir: Path, memory_budget_bytes: int = MEMORY_BUDGET_BYTES):
        self._paths = {path.stem: path for path in paths}
        self._temp_dir = temp_dir
        self._budget = memory_budget_bytes

    def input_path(self, item: dict[str, Any]) -> Path:
        return self._paths[item["basename"]]

    def set_progress(self, fraction: float, message: str = "") -> None:
        pass

    @property
    def temp_dir(self) -> Path:
        return self._temp_dir

    @property
    def memory_budget_bytes(self) -> int:
        return self._budget

    @property
    def provenance(self) -> dict[str, Any]:
        return {"operation": "Median", "operation_id": 0, "software_version": "bench"}


def run_ours(paths: list[Path], out_dir: Path) -> None:
    from data_operations.median import Median

    items = [{"type": "fits", "source": "archive", "basename": path.stem} for path in paths]
    Median({"input_files": items}).operate(BenchContext(paths, out_dir))


def run_baseline(paths: list[Path], out_dir: Path) -> None:
    from astropy.visualization import ZScaleInterval
    from PIL import Image

    frames = [fits.getdata(path, "SCI") for path in paths]
    stack = np.stack(frames)
    median = np.median(stack, axis=0)
    header = fits.getheader(paths[0], "SCI")
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data=median, header=header, name="SCI")]).writeto(
        out_dir / "median.fits", overwrite=True)
    low, high = ZScaleInterval().get_limits(median)
    scaled = np.clip((median - low) / (high - low), 0.0, 1.0) * 255.0
    image = Image.fromarray(np.flipud(scaled).astype(np.uint8), mode="L")
    image.save(out_dir / "median-large.jpg", quality=90)
    image.thumbnail((256, 256))
    image.save(out_dir / "median-small.jpg", quality=90)


def _decode_whole(path: str) -> None:
    fits.getdata(path, "SCI")


def run_floor(paths: list[Path], out_dir: Path) -> None:
    from data_operations.frames.decoder import _mp_context
    from data_operations.products import write_output_fits

    with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=_mp_context()) as pool:
        list(pool.map(_decode_whole, [os.fspath(path) for path in paths[1:]]))
        first = fits.getdata(paths[0], "SCI")  # decoded here while the pool decodes the rest
    write_output_fits(out_dir / "median.fits", first, fits.Header(), provenance={})


PIPELINES = {"ours": run_ours, "baseline": run_baseline, "floor": run_floor}
