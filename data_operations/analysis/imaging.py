"""Display products of a frame: 8-bit stretches, JPEG and TIFF bytes, histograms, bit depth."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from data_operations.products.previews import DEFAULT_SAMPLE_SIZE, _sample_step, _zscale_of_sample

JPEG_QUALITY = 90
STRIP_ROWS = 512  # rows stretched per pass, so a full frame never gets a float64 copy


def stretch_to_8bit(data: np.ndarray, zmin: float, zmax: float) -> np.ndarray:
    """Linear stretch of ``data`` between ``zmin`` (black) and ``zmax`` (white); NaN is black.

    Rows are flipped on the way, so row 0 of the result is the top of the sky image (the JPEG order).
    """
    span = zmax - zmin if zmax > zmin else 1.0
    rows = data.shape[0]
    result = np.empty(data.shape, dtype=np.uint8)
    for first in range(0, rows, STRIP_ROWS):
        last = min(rows, first + STRIP_ROWS)
        scaled = np.subtract(data[first:last], np.float32(zmin), dtype=np.float32)
        scaled *= np.float32(255.0 / span)
        np.nan_to_num(scaled, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        np.clip(scaled, 0.0, 255.0, out=scaled)
        np.rint(scaled, out=scaled)
        result[rows - last : rows - first] = scaled[::-1]
    return result


def jpeg_bytes(data: np.ndarray, zmin: float, zmax: float) -> bytes:
    """A greyscale JPEG of the whole frame at full resolution, top row first."""
    buffer = io.BytesIO()
    Image.fromarray(stretch_to_8bit(data, zmin, zmax), mode="L").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def write_float_tiff(data: np.ndarray, path: Path) -> None:
    """The frame's values as a 32-bit float TIFF (top row first), so nothing is lost to a stretch."""
    pixels = np.ascontiguousarray(np.asarray(data, dtype=np.float32)[::-1])
    Image.fromarray(pixels, mode="F").save(Path(path), format="TIFF")  # deflate barely shrinks noisy floats


def histogram(values: np.ndarray, *, bins: int, limits: tuple[float, float]) -> tuple[list[int], list[float]]:
    """Counts of the finite ``values`` in ``bins`` equal bins over ``limits`` and the bin centres."""
    low, high = limits
    if not high > low:
        high = low + 1.0
    finite = values[np.isfinite(values)]
    counts, edges = np.histogram(finite, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2.0
    return [int(count) for count in counts], [float(centre) for centre in centres]


def histogram_limits(values: np.ndarray, zscale: tuple[float, float]) -> tuple[float, float]:
    """The range a histogram should span: the 0.5-99.5 percentile range, widened to hold the zscale limits."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return zscale
    low, high = np.percentile(finite, [0.5, 99.5])
    return float(min(low, zscale[0])), float(max(high, zscale[1]))


def bitdepth_for(maximum: float) -> int:
    """Smallest of 8, 16, 32 bits whose unsigned range reaches ``maximum`` (16 when unknown)."""
    if not math.isfinite(maximum):
        return 16
    for bits in (8, 16):
        if maximum <= 2**bits - 1:
            return bits
    return 32


def display_decimals(maximum_magnitude: float, *, significant: int = 7) -> int:
    """Decimals that keep ``significant`` digits at the frame's largest magnitude (float32 precision)."""
    if not math.isfinite(maximum_magnitude) or maximum_magnitude <= 0:
        return significant
    return max(0, significant - 1 - math.floor(math.log10(maximum_magnitude)))


def finite_list(values: np.ndarray, *, decimals: int | None = None) -> list[float | None]:
    """Values as JSON-ready floats, rounded to ``decimals`` when given; NaN and infinities become None."""
    as_float = np.asarray(values, dtype=np.float64).ravel()
    if decimals is not None:
        as_float = np.round(as_float, decimals)
    finite = np.isfinite(as_float)
    listed = as_float.tolist()
    if finite.all():
        return listed
    return [value if ok else None for value, ok in zip(listed, finite.tolist(), strict=True)]


class FrameStatistics:
    """zscale limits and the finite maximum and maximum magnitude of an image fed band by band.

    The zscale sample is the same regular grid :func:`zscale_limits` takes from the whole image
    (every ``step``-th row and column, in row order), so the limits are the same whether the
    image is read at once or streamed while it decodes.
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        self.step = _sample_step(shape, DEFAULT_SAMPLE_SIZE)
        self.samples: list[np.ndarray] = []
        self.maximum = -math.inf
        self.magnitude = 0.0

    def add(self, first: int, band: np.ndarray) -> None:
        """Add image rows ``first`` to ``first + len(band)``."""
        # NaN makes the maximum NaN and an infinity shows at one end, so finite extremes prove the
        # band finite; only a band with missing pixels pays for a mask.
        largest, smallest = (float(band.max()), float(band.min())) if band.size else (math.nan, math.nan)
        if not (math.isfinite(largest) and math.isfinite(smallest)):
            finite = band[np.isfinite(band)]
            largest, smallest = (float(finite.max()), float(finite.min())) if finite.size else (math.nan, math.nan)
        if math.isfinite(largest):
            self.maximum = max(self.maximum, largest)
            self.magnitude = max(self.magnitude, abs(largest), abs(smallest))
        grid = band[(-first) % self.step::self.step, ::self.step]
        self.samples.append(grid[np.isfinite(grid)])

    def result(self) -> dict:
        """``zscale`` [low, high], ``maximum`` (None when no finite pixel) and ``max_magnitude``."""
        low, high = _zscale_of_sample(np.concatenate(self.samples) if self.samples else np.empty(0, np.float32))
        return {"zscale": [low, high], "maximum": self.maximum if math.isfinite(self.maximum) else None,
                "max_magnitude": self.magnitude}
