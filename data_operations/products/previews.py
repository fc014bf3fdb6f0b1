"""JPEG previews of a product: zscale-stretched, area-averaged, y up.

Everything works on bounded pieces of the image: zscale sees a strided sample and downsampling
runs over strips of rows, so a 4096x4096 float32 frame never gets a full-size float64 (or even
float32) copy. ``PreviewBuilder`` takes the image band by band while it is being computed, so an
operation does the reductions while its inputs are still decoding and only the stretch and the
JPEG encoding are left at the end.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

DEFAULT_LIMITS = (0.0, 1.0)
JPEG_QUALITY = 90
STRIP_OUTPUT_ROWS = 128  # output rows produced per pass while downsampling


DEFAULT_SAMPLE_SIZE = 20_000


def _sample_step(shape: tuple[int, int], sample_size: int) -> int:
    return max(1, math.isqrt((shape[0] * shape[1]) // max(1, sample_size)))


def _zscale_of_sample(sample: np.ndarray) -> tuple[float, float]:
    from astropy.visualization import ZScaleInterval  # imported when the last band is in, off the start-up path

    if sample.size == 0:
        return DEFAULT_LIMITS
    low, high = ZScaleInterval(n_samples=sample.size).get_limits(sample)
    return float(low), float(high)


def zscale_limits(data: np.ndarray, *, sample_size: int = DEFAULT_SAMPLE_SIZE) -> tuple[float, float]:
    """IRAF zscale display limits estimated from about ``sample_size`` finite pixels.

    The sample is a regular grid (every ``step``-th row and column), so it is a view plus one copy
    of the finite values only. All-NaN (or empty) data gives (0.0, 1.0).
    """
    if data.size == 0:
        return DEFAULT_LIMITS
    step = _sample_step(data.shape, sample_size)
    grid = data[::step, ::step]
    return _zscale_of_sample(grid[np.isfinite(grid)])


def _block_factor(shape: tuple[int, int], max_side: int) -> int:
    """Smallest integer factor that brings the longest side down to ``max_side`` or less."""
    return max(1, math.ceil(max(shape) / max(1, max_side)))


def _average_strip(strip: np.ndarray, factor: int, out: np.ndarray) -> None:
    """Mean of each ``factor`` x ``factor`` block of a strip over its finite pixels (NaN if none).

    The strip starts on a block boundary; its last block row and column may be partial
    (``np.add.reduceat``), so every pixel counts and any shape works.
    """
    if _average_whole_blocks(strip, factor, out):
        return
    row_starts = np.arange(0, strip.shape[0], factor)
    column_starts = np.arange(0, strip.shape[1], factor)
    finite = np.isfinite(strip)
    values = np.where(finite, strip, np.float32(0)).astype(np.float32, copy=False)
    totals = np.add.reduceat(np.add.reduceat(values, row_starts, axis=0), column_starts, axis=1)
    counts = np.add.reduceat(np.add.reduceat(finite, row_starts, axis=0, dtype=np.int32), column_starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(totals, counts, out=out, casting="unsafe")


class _Reduction:
    """One area-averaged preview, filled from row bands of any height as they arrive."""

    def __init__(self, shape: tuple[int, int], factor: int):
        self.factor = factor
        self.image = np.empty((math.ceil(shape[0] / factor), math.ceil(shape[1] / factor)), dtype=np.float32)
        self._carry = np.empty((factor, shape[1]), dtype=np.float32)  # rows of an unfinished block row
        self._carried = 0
        self._next_output = 0

    def add(self, rows: np.ndarray) -> None:
        factor = self.factor
        if factor == 1:
            self.image[self._next_output:self._next_output + len(rows)] = rows
            self._next_output += len(rows)
            return
        if self._carried:
            taken = min(factor - self._carried, len(rows))
            self._carry[self._carried:self._carried + taken] = rows[:taken]
            self._carried += taken
            rows = rows[taken:]
            if self._carried < factor:
                return
            self._emit(self._carry)
            self._carried = 0
        whole = len(rows) - len(rows) % factor
        for start in range(0, whole, STRIP_OUTPUT_ROWS * factor):
            self._emit(rows[start:min(whole, start + STRIP_OUTPUT_ROWS * factor)])
        left = len(rows) - whole
        self._carry[:left] = rows[whole:]
        self._carried = left

    def finish(self) -> np.ndarray:
        if self._carried:  # the image's last, partial block row
            self._emit(self._carry[:self._carried])
            self._carried = 0
        return self.image

    def _emit(self, strip: np.ndarray) -> None:
        count = math.ceil(len(strip) / self.factor)
        _average_strip(strip, self.factor, self.image[self._next_output:self._next_output + count])
        self._next_output += count


def _average_whole_blocks(strip: np.ndarray, factor: int, out: np.ndarray) -> bool:
    """The fast path: when the strip is all finite and tiles into whole blocks, sums of strided slices.

    Adding the ``factor`` row slices and then the ``factor`` column slices is ~20x faster than a
    reduction over the axes of a 4-D reshaped view. A float32 sum that comes out finite proves
    every pixel finite (NaN and infinity propagate; an overflow only sends the strip to the slow
    path). Returns False (having written nothing) when the fast path does not apply.
    """
    rows, cols = strip.shape
    if rows % factor or cols % factor or not np.isfinite(strip.sum(dtype=np.float32)):
        return False
    row_sums = np.add(strip[0::factor], strip[1::factor])
    for offset in range(2, factor):
        row_sums += strip[offset::factor]
    np.add(row_sums[:, 0::factor], row_sums[:, 1::factor], out=out)
    for offset in range(2, factor):
        out += row_sums[:, offset::factor]
    out *= np.float32(1.0 / (factor * factor))
    return True


def _to_8bit(image: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """Linear stretch between ``limits`` to 0..255; NaN becomes 0 (black). One float32 temporary."""
    low, high = limits
    span = high - low if high > low else 1.0
    scaled = np.subtract(image, np.float32(low), dtype=np.float32)
    scaled *= np.float32(255.0 / span)
    np.nan_to_num(scaled, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8)


def _save_jpeg(pixels: np.ndarray, path: Path) -> None:
    from PIL import Image

    # FITS row 0 is the bottom of the sky image; JPEG row 0 is the top: flip so y points up.
    Image.fromarray(np.ascontiguousarray(pixels[::-1]), mode="L").save(
        Path(path), format="JPEG", quality=JPEG_QUALITY
    )


def write_jpeg(image: np.ndarray, path: Path, *, limits: tuple[float, float]) -> None:
    """One greyscale JPEG of ``image`` as it is (already at display size), y up, stretched by ``limits``."""
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"image must be a non-empty 2-D array; got shape {image.shape}.")
    _save_jpeg(_to_8bit(np.asarray(image, dtype=np.float32), limits), path)


class PreviewBuilder:
    """The large and small previews of an image given as consecutive row bands, top to bottom.

    Each band is reduced as it arrives (zscale sample rows, area averages), so no full-size copy
    is kept and the caller may reuse a band's memory as soon as ``add_rows`` returns.
    """

    def __init__(self, shape: tuple[int, int], *, large_size: int = 2048, small_size: int = 256,
                 sample_size: int = DEFAULT_SAMPLE_SIZE):
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"previews need a non-empty 2-D image; got shape {tuple(shape)}.")
        self.shape = (int(shape[0]), int(shape[1]))
        self._step = _sample_step(self.shape, sample_size)
        self._samples: list[np.ndarray] = []
        self._large = _Reduction(self.shape, _block_factor(self.shape, large_size))
        self._small = _Reduction(self.shape, _block_factor(self.shape, small_size))
        self._next_row = 0

    def add_rows(self, y0: int, rows: np.ndarray) -> None:
        if y0 != self._next_row or rows.ndim != 2 or rows.shape[1] != self.shape[1]:
            raise ValueError(f"expected rows from {self._next_row} of width {self.shape[1]}.")
        grid = rows[(-y0) % self._step::self._step, ::self._step]  # the rows of data[::step, ::step] in this band
        self._samples.append(grid[np.isfinite(grid)])
        self._large.add(rows)
        self._small.add(rows)
        self._next_row += len(rows)

    def write(self, *, large_path: Path, small_path: Path, limits: tuple[float, float] | None = None) -> None:
        """Stretch with ``limits`` (default: zscale of the sample) and write both JPEGs."""
        if self._next_row != self.shape[0]:
            raise ValueError(f"only {self._next_row} of {self.shape[0]} rows were given.")
        if limits is None:
            limits = _zscale_of_sample(np.concatenate(self._samples))
        for path, reduction in ((large_path, self._large), (small_path, self._small)):
            _save_jpeg(_to_8bit(reduction.finish(), limits), path)


def write_jpeg_previews(
    data: np.ndarray,
    *,
    large_path: Path,
    small_path: Path,
    large_size: int = 2048,
    small_size: int = 256,
    limits: tuple[float, float] | None = None,
) -> None:
    """Write the large and small greyscale previews, longest side at most the given size."""
    if data.ndim != 2 or data.size == 0:
        raise ValueError(f"data must be a non-empty 2-D image; got shape {data.shape}.")
    builder = PreviewBuilder(data.shape, large_size=large_size, small_size=small_size)
    builder.add_rows(0, data)
    builder.write(large_path=large_path, small_path=small_path, limits=limits)
