"""The pipelines the benchmark times, each run by ``python -m bench.child`` in a fresh process.

- ``ours``: the real ``Median`` operation's worker-side work (read the cached inputs, combine,
  write the FITS product and both JPEGs) through a minimal operation context.
- ``baseline``: what the reference system does: load every frame fully with astropy, take
  ``np.median`` over the flattened frames (``overwrite_input=True``), write with astropy's default
  tile compression, then make the large and the small JPEG with its JPEG helper, the ``fits2image``
  package, which reads the written file back once per JPEG.
- ``floor``: the least any pipeline must do: decode every input once on all cores with the
  project's fastest decoder, then write one image with the project's writer.
- ``stacking`` / ``combine``: the real ``Stacking`` (simple sum) and ``Combine`` (mean with sigma
  clipping) operations, beside ``baseline-sum``, the reference's way of summing (load all,
  ``np.nansum`` over ``np.stack``, astropy write, the same JPEG helper).
- ``median-aligned`` / ``stacking-reproject`` / ``color-dithered``: ``Median`` with ``align: wcs``,
  ``Stacking`` in ``reproject`` mode and ``Color Image`` on dithered frames (pointings about ten
  pixels apart), so every frame but the first is resampled onto the output grid.
- ``color`` / ``baseline-color``: the real ``Color Image`` operation on the first three frames
  (red, green, blue, display limits given as the front end sends them), beside the reference's
  RGB Stack output step: fits2image's colour TIFF at full size, then the large and small JPEGs,
  each reading the three FITS files again. The reference first aligns the channels with
  fits_align's catalogue matching; that step is left out of the baseline (it needs FWHM and
  ellipticity columns our synthetic catalogue lacks), which only makes the baseline faster,
  while ``color`` does its WCS alignment.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

MEMORY_BUDGET_BYTES = 256 * 1024 * 1024  # the service default (OPERATION_MEMORY_BUDGET_BYTES)


class BenchContext:
    """An ``OperationContext`` over local files: no archive, no database, progress ignored."""

    def __init__(self, paths: list[Path], temp_dir: Path, memory_budget_bytes: int = MEMORY_BUDGET_BYTES,
                 operation: str = "Median"):
        self._paths = {path.stem: path for path in paths}
        self._operation = operation
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
        return {"operation": self._operation, "operation_id": 0, "software_version": "bench"}


def _run_operation(operation_class, paths: list[Path], out_dir: Path, **inputs: Any) -> None:
    """The operation's whole worker-side work on local files, as the worker would run it."""
    items = [{"type": "fits", "source": "archive", "basename": path.stem} for path in paths]
    operation = operation_class({"input_files": items, **inputs})
    operation.operate(BenchContext(paths, out_dir, operation=operation_class.name()))


def run_ours(paths: list[Path], out_dir: Path) -> None:
    from data_operations.median import Median

    _run_operation(Median, paths, out_dir)


def run_stacking(paths: list[Path], out_dir: Path) -> None:
    from data_operations.stacking import Stacking

    _run_operation(Stacking, paths, out_dir, stacking_mode="simple")


def run_median_aligned(paths: list[Path], out_dir: Path) -> None:
    from data_operations.median import Median

    _run_operation(Median, paths, out_dir, align="wcs")


def run_stacking_reproject(paths: list[Path], out_dir: Path) -> None:
    from data_operations.stacking import Stacking

    _run_operation(Stacking, paths, out_dir, stacking_mode="reproject")


def run_combine(paths: list[Path], out_dir: Path) -> None:
    from data_operations.combine import Combine

    _run_operation(Combine, paths, out_dir, method="mean", rejection="sigma_clip", sigma_low=3.0, sigma_high=3.0)


COLOR_LIMITS = (200.0, 1500.0)  # display limits of every channel: sky to bright stars
COLORS = ({"r": 255, "g": 0, "b": 0}, {"r": 0, "g": 255, "b": 0}, {"r": 0, "g": 0, "b": 255})


def run_color(paths: list[Path], out_dir: Path) -> None:
    from data_operations.color_image import ColorImage

    low, high = COLOR_LIMITS
    channels = [{"type": "fits", "source": "archive", "basename": path.stem, "color": color, "zmin": low, "zmax": high}
                for path, color in zip(paths[:3], COLORS, strict=True)]
    operation = ColorImage({"color_channels": channels})
    operation.operate(BenchContext(paths[:3], out_dir, operation=ColorImage.name()))


def run_baseline_color(paths: list[Path], out_dir: Path) -> None:
    from fits2image.conversions import fits_to_img, fits_to_jpg

    channels = [str(path) for path in paths[:3]]
    height, width = max(_shape(path) for path in paths[:3])
    limits = {"zmin": [COLOR_LIMITS[0]] * 3, "zmax": [COLOR_LIMITS[1]] * 3}
    fits_to_img(channels, str(out_dir / "result.tif"), "TIFF", width=width, height=height, color=True, **limits)
    fits_to_jpg(channels, str(out_dir / "result-large.jpg"), width=width, height=height, color=True, **limits)
    fits_to_jpg(channels, str(out_dir / "result-small.jpg"), color=True, **limits)


def _shape(path: Path) -> tuple[int, int]:
    header = fits.getheader(path, "SCI")
    return int(header["NAXIS2"]), int(header["NAXIS1"])


def run_baseline(paths: list[Path], out_dir: Path) -> None:
    def median(frames: list[np.ndarray]) -> np.ndarray:
        shape = frames[0].shape
        flat = [frame.ravel() for frame in frames]
        return np.median(flat, axis=0, overwrite_input=True).reshape(shape)

    _reference_combine(paths, out_dir, median)


def run_baseline_sum(paths: list[Path], out_dir: Path) -> None:
    _reference_combine(paths, out_dir, lambda frames: np.nansum(np.stack(frames), axis=0))


def _reference_combine(paths: list[Path], out_dir: Path, combine) -> None:
    """Load all, combine, write a tile-compressed FITS, then both JPEGs from the written file."""
    from fits2image.conversions import fits_to_jpg

    frames = [fits.getdata(path, "SCI") for path in paths]
    result = combine(frames)
    header = fits.getheader(paths[0], "SCI")
    output = out_dir / "result.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data=result, header=header, name="SCI")]).writeto(
        output, overwrite=True)
    height, width = result.shape
    fits_to_jpg(str(output), str(out_dir / "result-large.jpg"), width=width, height=height)
    fits_to_jpg(str(output), str(out_dir / "result-small.jpg"))


def run_floor(paths: list[Path], out_dir: Path) -> None:
    from data_operations.frames import FrameStack
    from data_operations.products import write_output_fits

    with FrameStack(paths) as stack:
        ny, nx = stack.shape
        image = np.empty((ny, nx), dtype=np.float32)
        rows = max(1, (16 * 1024 * 1024) // (nx * 4))  # the reader's efficient band per frame

        def decode_frame(index: int) -> None:  # every frame into the same buffer: decode cost only
            for y0 in range(0, ny, rows):
                stack.read_rows(index, y0, min(ny, y0 + rows), image[y0:y0 + rows])

        with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
            list(pool.map(decode_frame, range(stack.count)))
    write_output_fits(out_dir / "median.fits", image, fits.Header(), provenance={})


PIPELINES = {
    "ours": run_ours, "baseline": run_baseline, "floor": run_floor,
    "stacking": run_stacking, "combine": run_combine, "baseline-sum": run_baseline_sum,
    "color": run_color, "baseline-color": run_baseline_color,
    "median-aligned": run_median_aligned, "stacking-reproject": run_stacking_reproject, "color-dithered": run_color,
}
# Pipelines that run on dithered frames (bench/data.py), and what each is compared with in the same run.
DITHERED_PIPELINES = {"median-aligned": "ours", "stacking-reproject": "ours", "color-dithered": "color"}
