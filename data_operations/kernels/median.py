"""NaN-aware median of a stack of frames, one row band at a time.

``np.nanmedian`` is slow on a stack axis (it masks and copies per call) and warns on all-NaN
pixels. Here the band is copied once into pixel-major order, so each pixel's N samples are
contiguous, and sorted along that short axis; NaNs sort last, so a pixel with k finite samples has
its median at positions (k-1)//2 and k//2. Pixels without NaNs (nearly all of them) are read
straight from the two middle planes; only pixels with NaNs are gathered individually.

For up to ``NETWORK_MAX_FRAMES`` frames a faster path avoids the pixel-major copy and the sort
altogether: a median selection network (Batcher's odd-even merge sort, pruned to the comparators
that reach the middle outputs) runs in C (``_network.c``) on blocks of pixels small enough to stay
in cache, without the GIL. A pixel with any NaN comes out NaN there and is recomputed by the
sorting path; finite pixels get exactly the sorted middle values. Without the compiled module (or
with the pure-Python kernels forced, see ``data_operations.native``) every band takes the sorting
path, which gives the same medians.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from data_operations.native import NETWORK_MODULE, compiled_module

# The network's cost per sample grows slowly with the count (comparators per input: 6.6 at 50 frames,
# 12 at 200, 12.5 at 256) and stays below the sort's up to here (2.6 against 4.1 ns per sample at
# 200 frames of 2048 columns); from ~300 frames on the two are within a few per cent.
NETWORK_MAX_FRAMES = 256


def nanmedian_band(band: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Median over axis 0 of ``band`` (N, rows, cols), ignoring NaNs; all-NaN pixels give NaN.

    Equals ``np.nanmedian(band, axis=0)`` computed in float32 (the mean of the two middle values
    of an even count is ``(a + b) / 2`` in float32, as numpy does). ``band`` is not modified; the
    working copy is one band-sized float32 array. ``out`` (rows, cols) receives the result.
    """
    if band.ndim != 3:
        raise ValueError(f"band must have shape (frames, rows, cols); got {band.shape}.")
    count, rows, cols = band.shape
    if out is None:
        out = np.empty((rows, cols), dtype=np.float32)
    elif out.shape != (rows, cols):
        raise ValueError(f"out must have shape {(rows, cols)}; got {out.shape}.")
    if count == 0:
        out.fill(np.nan)
        return out
    if rows * cols == 0:
        return out
    network = compiled_module(NETWORK_MODULE)
    if network is not None and 1 < count <= NETWORK_MAX_FRAMES and band.dtype == np.float32:
        _network_median(network.network_median, band, out)
        return out
    _sorted_median(band, out)
    return out


def _sorted_median(band: np.ndarray, out: np.ndarray) -> None:
    """The general path: copy pixel-major, sort each pixel's samples, read the middle."""
    count, rows, cols = band.shape
    samples = np.empty((rows, cols, count), dtype=np.float32)  # pixel-major: samples contiguous
    np.copyto(samples, np.moveaxis(band, 0, -1), casting="unsafe")
    samples.sort(axis=-1)

    with np.errstate(over="ignore", invalid="ignore"):
        _middle_of_sorted(samples[..., (count - 1) // 2], samples[..., count // 2], count % 2 == 1, out)
        has_nan = np.isnan(samples[..., -1])
        if has_nan.any():
            _fix_pixels_with_nans(samples, has_nan, out)


@lru_cache(maxsize=64)
def sorting_network(count: int) -> tuple[tuple[int, int], ...]:
    """Comparators ``(i, j)`` (min to wire i, max to wire j) that sort ``count`` inputs.

    Batcher's odd-even merge sort on the next power of two, minus the comparators touching the
    padding wires (implicit +inf, never swapped).
    """
    size = 1
    while size < count:
        size *= 2
    comparators: list[tuple[int, int]] = []
    step = 1
    while step < size:  # iterative odd-even merge sort (Knuth 5.3.4, exercise 32 style)
        sub = step
        while sub >= 1:
            for j in range(sub % step, size - sub, 2 * sub):
                for i in range(min(sub, size - j - sub)):
                    if (i + j) // (2 * step) == (i + j + sub) // (2 * step):
                        comparators.append((i + j, i + j + sub))
            sub //= 2
        step *= 2
    return tuple((a, b) for a, b in comparators if b < count)


@lru_cache(maxsize=64)
def median_network(count: int) -> tuple[tuple[int, int, bool, bool], ...]:
    """Comparators ``(i, j, keep_min, keep_max)`` that leave the median wires of ``count`` inputs sorted.

    The sorting network minus the comparators no median wire depends on; ``keep_min`` /
    ``keep_max`` say which of a comparator's two outputs is still needed downstream.
    """
    needed = {(count - 1) // 2, count // 2}
    kept: list[tuple[int, int, bool, bool]] = []
    for low, high in reversed(sorting_network(count)):
        keep_min, keep_max = low in needed, high in needed
        if keep_min or keep_max:
            kept.append((low, high, keep_min, keep_max))
            needed.update((low, high))
    return tuple(reversed(kept))


@lru_cache(maxsize=64)
def network_table(count: int, *, sort: bool = False) -> np.ndarray:
    """The median network (or with ``sort`` the whole sorting network) as the C kernels' int32 table."""
    rows = [(low, high, True, True) for low, high in sorting_network(count)] if sort else median_network(count)
    table = np.array(rows, dtype=np.int32).reshape(-1, 4)
    table.flags.writeable = False
    return table


def _network_median(network_median, band: np.ndarray, out: np.ndarray) -> None:
    """Median of a float32 band by the selection network in C; pixels with NaNs re-sorted."""
    count, rows, cols = band.shape
    planes = band.reshape(count, rows * cols)
    if planes.strides[1] != planes.itemsize:
        planes = np.ascontiguousarray(planes)
    contiguous = out.flags.c_contiguous
    target = out.reshape(rows * cols) if contiguous else np.empty(rows * cols, np.float32)
    network_median(planes, network_table(count), target)
    if not contiguous:
        out[...] = target.reshape(rows, cols)
    nan_pixels = np.isnan(out)
    if nan_pixels.any():
        pixel_rows, pixel_cols = np.nonzero(nan_pixels)
        subset = band[:, pixel_rows, pixel_cols][:, None, :]  # (N, 1, k)
        fixed = np.empty((1, len(pixel_rows)), dtype=np.float32)
        _sorted_median(subset, fixed)
        out[pixel_rows, pixel_cols] = fixed[0]


def _middle_of_sorted(lower: np.ndarray, upper: np.ndarray, odd: np.ndarray | bool,
                      out: np.ndarray) -> None:
    """``lower`` where the count is odd, else ``(lower + upper) / 2`` (float32, like numpy)."""
    np.add(lower, upper, out=out, casting="unsafe")
    np.multiply(out, np.float32(0.5), out=out)
    np.copyto(out, lower, where=odd, casting="unsafe")


def _fix_pixels_with_nans(samples: np.ndarray, has_nan: np.ndarray, out: np.ndarray) -> None:
    """Recompute the pixels whose sample count is reduced by NaNs (NaNs are sorted last)."""
    pixel_rows, pixel_cols = np.nonzero(has_nan)
    pixel_samples = samples[pixel_rows, pixel_cols]  # (k, N), only these pixels
    finite_count = pixel_samples.shape[1] - np.count_nonzero(np.isnan(pixel_samples), axis=1)
    lower_index = np.maximum(finite_count - 1, 0) // 2
    upper_index = finite_count // 2
    picks = np.arange(len(pixel_samples))
    lower = pixel_samples[picks, lower_index]
    upper = pixel_samples[picks, upper_index]
    middle = np.empty_like(lower)
    # All-NaN pixels: finite_count 0 picks NaN at index 0, so the result is NaN with no warning.
    _middle_of_sorted(lower, upper, finite_count % 2 == 1, middle)
    out[pixel_rows, pixel_cols] = middle
