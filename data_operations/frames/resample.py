"""Where a grid's pixels land in a frame, and the frame resampled there, a band of rows at a time.

Reprojecting with ``reproject_interp`` asks the WCS about every output pixel (a SIP frame's
inverse is iterative) and builds several float64 arrays the size of the output. Frames of one
field map onto each other smoothly, so here the WCS is asked only at nodes every ``NODE_SPACING``
grid pixels (``astropy.wcs.utils.pixel_to_pixel``, as reproject does) and the mapping is
interpolated in between by Catmull-Rom cubic convolution (exact for quadratic mappings; a few
1e-6 pixels off on SIP frames). The frame is then sampled bilinearly with reproject's conventions
(see ``_resample.c``), so an aligned band is computed from the few frame rows it needs.

The compiled module ``_resample`` does the per-pixel work; without it (not built at install, or
the fallback forced: see ``data_operations.native``) the numpy code here computes the same pixels
in the same order of operations, so both paths give identical results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from data_operations.native import RESAMPLE_MODULE, compiled_module

if TYPE_CHECKING:
    from astropy.wcs import WCS

# Grid pixels between nodes where the WCS is evaluated exactly; 32 keeps the interpolated mapping
# within ~1e-5 pixels on SIP frames while the WCS is asked ~1000x less often than per pixel.
NODE_SPACING = 32
# Grid rows per numpy step of the fallback, so its float64 temporaries stay a few MiB.
FALLBACK_ROWS = 16
# Coverage decides a node interval from its nodes when the positions in it, which stay within the
# nodes' range widened by an eighth of it (Catmull-Rom's negative weights add up to >= -1/8), lie
# wholly on or off the frame by more than the margin; others are looked at pixel by pixel.
OVERSHOOT = 0.125
CLASSIFY_MARGIN = 1e-6
OUTSIDE, INSIDE, MIXED = 0, 1, 2


def compiled_resampler() -> ModuleType | None:
    """The C module, or None when it is not built or the numpy fallback is forced (``native``)."""
    return compiled_module(RESAMPLE_MODULE)


@dataclass(frozen=True)
class RowCoverage:
    """Per grid row: first and last grid column landing on the frame (-1 if none), and bounds of
    the frame rows those columns land on (NaN if none; a little wide, never too narrow)."""

    first_col: np.ndarray
    last_col: np.ndarray
    min_row: np.ndarray
    max_row: np.ndarray

    def box(self, grid_x0: int = 0) -> tuple[int, int, int, int] | None:
        """(y0, y1, x0, x1) of the grid pixels on the frame, or None when there are none."""
        rows = np.flatnonzero(self.first_col >= 0)
        if rows.size == 0:
            return None
        return (int(rows[0]), int(rows[-1]) + 1, grid_x0 + int(self.first_col[rows].min()),
                grid_x0 + int(self.last_col[rows].max()) + 1)


@dataclass(frozen=True)
class PixelMapping:
    """Frame pixel positions of a grid's pixels, exact at nodes every ``spacing`` grid pixels.

    ``nodes_x``/``nodes_y`` (float64, (node_rows, node_cols)): node (i, j) holds where grid pixel
    ((j - 1) * spacing, (i - 1) * spacing) lies in the frame (0-based, pixel centres at integers).
    """

    nodes_x: np.ndarray
    nodes_y: np.ndarray
    spacing: int
    grid_shape: tuple[int, int]
    frame_shape: tuple[int, int]

    @classmethod
    def between(cls, grid_wcs: WCS, grid_shape: tuple[int, int], frame_wcs: WCS, frame_shape: tuple[int, int],
                spacing: int = NODE_SPACING) -> PixelMapping:
        """The mapping from ``grid_wcs`` pixels to ``frame_wcs`` pixels, through the sky."""
        from astropy.wcs.utils import pixel_to_pixel

        grid_ny, grid_nx = grid_shape
        node_ys = (np.arange((grid_ny - 1 + spacing) // spacing + 3) - 1.0) * spacing
        node_xs = (np.arange((grid_nx - 1 + spacing) // spacing + 3) - 1.0) * spacing
        xs, ys = np.meshgrid(node_xs, node_ys)
        frame_x, frame_y = pixel_to_pixel(grid_wcs, frame_wcs, xs, ys)
        return cls(nodes_x=np.ascontiguousarray(frame_x, dtype=np.float64),
                   nodes_y=np.ascontiguousarray(frame_y, dtype=np.float64), spacing=int(spacing),
                   grid_shape=(int(grid_ny), int(grid_nx)), frame_shape=(int(frame_shape[0]), int(frame_shape[1])))

    # --- the per-pixel work (C, or the numpy fallback) ---------------------------------------------
    def coverage(self, grid_y0: int = 0, grid_y1: int | None = None) -> RowCoverage:
        """Which grid pixels of rows [grid_y0, grid_y1) land on the frame, and on which frame rows."""
        grid_y1 = self.grid_shape[0] if grid_y1 is None else grid_y1
        rows, cols = grid_y1 - grid_y0, self.grid_shape[1]
        first, last = np.empty(rows, dtype=np.int64), np.empty(rows, dtype=np.int64)
        low, high = np.empty(rows, dtype=np.float64), np.empty(rows, dtype=np.float64)
        module = compiled_resampler()
        if module is not None:
            module.coverage(self.nodes_x, self.nodes_y, *self.nodes_x.shape, self.spacing, grid_y0, 0, rows, cols,
                            *self.frame_shape, first, last, low, high)
        else:
            for start in range(0, rows, FALLBACK_ROWS):
                stop = min(rows, start + FALLBACK_ROWS)
                self._coverage_rows(grid_y0 + start, grid_y0 + stop, cols, first[start:stop], last[start:stop],
                                    low[start:stop], high[start:stop])
        return RowCoverage(first, last, low, high)

    def resample(self, window: np.ndarray, window_y0: int, grid_y0: int, grid_x0: int, out: np.ndarray) -> None:
        """Fill ``out`` (float32, (rows, cols)) with the frame at grid pixels from (grid_y0, grid_x0).

        ``window`` (float32, (k, frame nx)) holds frame rows ``window_y0:window_y0 + k``; it must
        hold every row the pixels need (``rows_needed``), else this raises.
        """
        rows, cols = out.shape
        window = np.ascontiguousarray(window, dtype=np.float32)
        module = compiled_resampler()
        if module is not None:
            missed = module.resample(window, window_y0, *self.frame_shape, self.nodes_x, self.nodes_y,
                                     *self.nodes_x.shape, self.spacing, grid_y0, grid_x0, out, rows, cols)
        else:
            missed = 0
            for start in range(0, rows, FALLBACK_ROWS):
                stop = min(rows, start + FALLBACK_ROWS)
                x, y = self._positions(grid_y0 + start, grid_y0 + stop, grid_x0, grid_x0 + cols)
                missed += _bilinear(window, window_y0, self.frame_shape, x, y, out[start:stop])
        if missed:
            raise RuntimeError(f"{missed} resampled pixels needed frame rows outside the rows given.")

    # --- the numpy fallback's mapping, in the C code's order of operations -------------------------
    def _row_nodes(self, grid_y0: int, grid_y1: int) -> tuple[np.ndarray, np.ndarray]:
        """Nodes along the grid's columns for rows [grid_y0, grid_y1): (rows, node_cols) for x and y."""
        row_index, row_weights = _node_stencil(np.arange(grid_y0, grid_y1), self.spacing)
        w = [weight[:, None] for weight in row_weights]
        rows = []
        for nodes in (self.nodes_x, self.nodes_y):
            rows.append(((w[0] * nodes[row_index - 1] + w[1] * nodes[row_index]) + w[2] * nodes[row_index + 1])
                        + w[3] * nodes[row_index + 2])
        return rows[0], rows[1]

    def _positions(self, grid_y0: int, grid_y1: int, grid_x0: int, grid_x1: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame (x, y) of grid rows [grid_y0, grid_y1) x columns [grid_x0, grid_x1), float64."""
        col_index, w = _node_stencil(np.arange(grid_x0, grid_x1), self.spacing)
        return tuple(((w[0] * row[:, col_index - 1] + w[1] * row[:, col_index]) + w[2] * row[:, col_index + 1])
                     + w[3] * row[:, col_index + 2] for row in self._row_nodes(grid_y0, grid_y1))

    def _coverage_rows(self, grid_y0: int, grid_y1: int, cols: int, first: np.ndarray, last: np.ndarray,
                       low: np.ndarray, high: np.ndarray) -> None:
        """``coverage`` for a few rows, deciding node intervals as the C code does (see there)."""
        spacing, (frame_ny, frame_nx) = self.spacing, self.frame_shape
        row_x, row_y = self._row_nodes(grid_y0, grid_y1)
        kx = np.arange(1, (cols - 1 + spacing) // spacing + 1)  # the node intervals of columns 0..cols-1
        c0 = (kx - 1) * spacing
        c1 = np.minimum(kx * spacing, cols)
        x_low, x_high = _interval_bounds(row_x, kx)
        y_low, y_high = _interval_bounds(row_y, kx)
        along_x, along_y = _classify(x_low, x_high, frame_nx), _classify(y_low, y_high, frame_ny)
        sure = (along_x == INSIDE) & (along_y == INSIDE)
        mixed = (along_x != OUTSIDE) & (along_y != OUTSIDE) & ~sure
        in_first = np.where(sure, c0, cols)
        in_last = np.where(sure, c1 - 1, -1)
        rows, intervals = np.nonzero(mixed)
        if rows.size:
            columns = c0[intervals][:, None] + np.arange(spacing)
            phase = (columns + spacing) % spacing
            weights = [table_weight[phase] for table_weight in _phase_weights(spacing)]
            stencil = kx[intervals][:, None]
            positions = [((weights[0] * row[rows[:, None], stencil - 1] + weights[1] * row[rows[:, None], stencil])
                          + weights[2] * row[rows[:, None], stencil + 1]) + weights[3] * row[rows[:, None], stencil + 2]
                         for row in (row_x, row_y)]
            on_frame = (columns < c1[intervals][:, None]) & _inside(positions[0], frame_nx) \
                & _inside(positions[1], frame_ny)
            found = on_frame.any(axis=1)
            in_first[rows, intervals] = np.where(found, columns[:, 0] + on_frame.argmax(axis=1), cols)
            in_last[rows, intervals] = np.where(found, columns[:, 0] + spacing - 1 - on_frame[:, ::-1].argmax(axis=1),
                                                -1)
        counted = in_last >= 0
        any_counted = counted.any(axis=1)
        first[...] = np.where(any_counted, in_first.min(axis=1), -1)
        last[...] = np.where(any_counted, in_last.max(axis=1), -1)
        low[...] = np.where(any_counted, np.where(counted, y_low, np.inf).min(axis=1), np.nan)
        high[...] = np.where(any_counted, np.where(counted, y_high, -np.inf).max(axis=1), np.nan)


def rows_needed(coverage: RowCoverage, frame_ny: int, grid_y0: int, grid_y1: int) -> tuple[int, int]:
    """Frame rows [lo, hi) that grid rows [grid_y0, grid_y1) sample (lo == hi: none)."""
    low = coverage.min_row[grid_y0:grid_y1]
    high = coverage.max_row[grid_y0:grid_y1]
    finite = np.isfinite(low)
    if not finite.any():
        return 0, 0
    lo = max(0, math.floor(float(low[finite].min())) - 1)
    hi = min(frame_ny, math.floor(float(high[finite].max())) + 3)
    return lo, max(lo, hi)


def _phase_weights(spacing: int) -> list[np.ndarray]:
    """Catmull-Rom weights of the four nodes around each phase 0..spacing-1 between two nodes."""
    t = np.arange(spacing).astype(np.float64) / float(spacing)
    return [((-0.5 * t + 1.0) * t - 0.5) * t,
            ((1.5 * t - 2.5) * t) * t + 1.0,
            ((-1.5 * t + 2.0) * t + 0.5) * t,
            ((0.5 * t - 0.5) * t) * t]


def _node_stencil(pixels: np.ndarray, spacing: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """For each grid pixel index: its node index k (nodes k-1..k+2 around it) and the four weights."""
    index = (pixels + spacing) // spacing
    phase = (pixels + spacing) % spacing
    return index, [weight[phase] for weight in _phase_weights(spacing)]


def _interval_bounds(row: np.ndarray, kx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the positions in node intervals ``kx`` of rows of nodes (NaN where a node is NaN)."""
    stencil = [row[:, kx - 1], row[:, kx], row[:, kx + 1], row[:, kx + 2]]
    low = np.minimum(np.minimum(stencil[0], stencil[1]), np.minimum(stencil[2], stencil[3]))
    high = np.maximum(np.maximum(stencil[0], stencil[1]), np.maximum(stencil[2], stencil[3]))
    spread = high - low
    return low - spread * OVERSHOOT, high + spread * OVERSHOOT


def _classify(low: np.ndarray, high: np.ndarray, size: int) -> np.ndarray:
    """OUTSIDE, INSIDE or MIXED for positions within [low, high] on an axis of ``size`` pixels."""
    with np.errstate(invalid="ignore"):
        inside = (low > -0.5 + CLASSIFY_MARGIN) & (high < size - 0.5 - CLASSIFY_MARGIN)
        outside = (high < -0.5 - CLASSIFY_MARGIN) | (low > size - 0.5 + CLASSIFY_MARGIN)
    return np.where(inside, INSIDE, np.where(outside, OUTSIDE, MIXED))


def _inside(position: np.ndarray, size: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (position >= -0.5) & (position < size - 0.5)


def _neighbours(position: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both neighbours of each (inside) position on an axis of ``size`` and the second's weight."""
    clipped = np.where(position < 0.0, 0.0, np.where(position >= size - 1, float(size - 1), position))
    start = np.clip(np.floor(clipped), None, size - 2)
    start = np.maximum(start, 0.0)
    second = start + 1.0 if size > 1 else start
    return start.astype(np.intp), second.astype(np.intp), clipped - start


def _bilinear(window: np.ndarray, window_y0: int, frame_shape: tuple[int, int], x: np.ndarray, y: np.ndarray,
              out: np.ndarray) -> int:
    """Sample ``window`` at frame positions (x, y) into ``out``; returns pixels outside the window."""
    frame_ny, frame_nx = frame_shape
    inside = _inside(x, frame_nx) & _inside(y, frame_ny)
    x = np.where(inside, x, 0.0)
    y = np.where(inside, y, 0.0)
    x0, x1, tx = _neighbours(x, frame_nx)
    y0, y1, ty = _neighbours(y, frame_ny)
    y0 -= window_y0
    y1 -= window_y0
    in_window = (y0 >= 0) & (y1 < window.shape[0])
    missed = int(np.count_nonzero(inside & ~in_window))
    inside &= in_window
    if not inside.any():  # also the case of an empty window, which has no row to index
        out[...] = np.nan
        return missed
    y0 = np.where(inside, y0, 0)
    y1 = np.where(inside, y1, 0)
    upper0 = window[y0, x0].astype(np.float64)
    upper1 = window[y0, x1].astype(np.float64)
    lower0 = window[y1, x0].astype(np.float64)
    lower1 = window[y1, x1].astype(np.float64)
    wx0, wy0 = 1.0 - tx, 1.0 - ty
    with np.errstate(invalid="ignore"):
        value = ((upper0 * wy0) * wx0 + (upper1 * wy0) * tx) + (lower0 * ty) * wx0
        value = value + (lower1 * ty) * tx
    out[...] = np.where(inside, value, np.nan).astype(np.float32)
    return missed
