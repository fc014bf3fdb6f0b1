"""Exact area-averaged resampling of an image to any output shape, NaN-aware and bounded in memory."""
from __future__ import annotations

import math

import numpy as np
from scipy import sparse

STRIP_ROWS = 256  # input rows handled per pass, so a 4096-wide frame needs ~8 MB of temporaries


def overlap_weights(n_in: int, n_out: int) -> sparse.csr_matrix:
    """(n_out, n_in) matrix: entry [k, i] is the fraction of output cell k covered by input pixel i.

    Output cell k spans ``[k * n_in / n_out, (k + 1) * n_in / n_out)`` in input pixel units, so each
    row sums to 1 and the matrix averages exactly over each cell's footprint (partial pixels count
    by their covered fraction). Works for shrinking and for enlarging.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"sizes must be positive; got n_in={n_in}, n_out={n_out}.")
    cell = n_in / n_out
    lower = np.arange(n_out) * cell
    upper = lower + cell
    span = math.ceil(cell) + 1
    pixels = np.floor(lower).astype(np.int64)[:, None] + np.arange(span)[None, :]
    covered = np.minimum(upper[:, None], pixels + 1) - np.maximum(lower[:, None], pixels)
    keep = (covered > 1e-12) & (pixels < n_in)
    rows = np.broadcast_to(np.arange(n_out)[:, None], pixels.shape)[keep]
    weights = covered[keep] / cell
    return sparse.csr_matrix((weights, (rows, pixels[keep])), shape=(n_out, n_in))


def area_average(data: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``data`` (any 2-D array, e.g. a memory map) averaged onto ``shape`` = (rows, columns), float32.

    Each output value is the mean of the finite input pixels under its footprint, weighted by the
    covered area; a cell with no finite pixel is NaN. Rows keep the input's order.
    """
    if data.ndim != 2 or data.size == 0:
        raise ValueError(f"data must be a non-empty 2-D image; got shape {data.shape}.")
    averager = AreaAverager(data.shape, shape)
    for first in range(0, data.shape[0], averager.strip_rows):
        averager.add(first, data[first:first + averager.strip_rows])
    return averager.result()


class AreaAverager:
    """:func:`area_average` fed strip by strip (top to bottom), e.g. while a frame is decoding.

    Strips must start on a multiple of ``row_multiple`` and hold a multiple of it (the last one may
    be shorter). When the input is a whole number of output cells in both directions, each cell is
    a plain block, so the weighted sums reduce to block sums (strided additions, about twice as
    fast as the sparse products) and the mean of the finite pixels is sum / count.
    """

    def __init__(self, shape_in: tuple[int, int], shape_out: tuple[int, int]) -> None:
        rows_in, columns_in = shape_in
        self.shape_out = (int(shape_out[0]), int(shape_out[1]))
        self.blocks = (rows_in % self.shape_out[0] == 0 and columns_in % self.shape_out[1] == 0)
        if self.blocks:
            self.block_rows, self.block_columns = rows_in // self.shape_out[0], columns_in // self.shape_out[1]
            self.row_multiple = self.block_rows
        else:
            self.row_weights = overlap_weights(rows_in, self.shape_out[0]).tocsc()
            self.column_weights = overlap_weights(columns_in, self.shape_out[1])
            self.row_multiple = 1
        self.strip_rows = max(1, STRIP_ROWS // self.row_multiple) * self.row_multiple
        self.totals = np.zeros(self.shape_out, dtype=np.float64)
        self.areas = np.zeros(self.shape_out, dtype=np.float64)

    def add(self, first: int, data: np.ndarray) -> None:
        """Add input rows ``first`` to ``first + len(data)``."""
        if first % self.row_multiple:
            raise ValueError(f"strips must start on a multiple of {self.row_multiple} rows; got {first}.")
        for offset in range(0, data.shape[0], self.strip_rows):
            self._add_strip(first + offset, data[offset:offset + self.strip_rows])

    def _add_strip(self, first: int, data: np.ndarray) -> None:
        data = np.asarray(data)
        if self.blocks:
            cells = slice(first // self.block_rows, -(-(first + data.shape[0]) // self.block_rows))
            # The usual case: sums straight from the input, every block full. A NaN or inf pixel makes
            # its block's sum non-finite, so finite sums prove the strip finite without a mask pass.
            sums = _block_sums(data, self.block_rows, self.block_columns)
            if np.isfinite(sums).all():
                self.totals[cells] += sums
                self.areas[cells] += self.block_rows * self.block_columns
                return
            finite = np.isfinite(data)
            strip = np.where(finite, data, 0.0)
            self.totals[cells] += _block_sums(strip, self.block_rows, self.block_columns)
            self.areas[cells] += _block_sums(finite, self.block_rows, self.block_columns)
            return
        finite = np.isfinite(data)
        strip = np.asarray(data, dtype=np.float64)
        if not finite.all():
            strip[~finite] = 0.0
        strip_rows = self.row_weights[:, first:first + strip.shape[0]]
        self.totals += strip_rows @ (self.column_weights @ strip.T).T
        self.areas += strip_rows @ (self.column_weights @ finite.astype(np.float64).T).T

    def result(self) -> np.ndarray:
        """The averaged image, float32 (NaN where no finite pixel fell)."""
        empty = self.areas <= (0.0 if self.blocks else 1e-9)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Divided in float64 and rounded once to float32, as before, without a full float64 temporary.
            averaged = np.divide(self.totals, self.areas, out=np.empty(self.shape_out, np.float32),
                                 casting="same_kind")
        averaged[empty] = np.nan
        return averaged


def _block_sums(strip: np.ndarray, block_rows: int, block_columns: int) -> np.ndarray:
    """Float64 sums of ``block_rows`` x ``block_columns`` blocks, as strided whole-array additions."""
    columns = strip[:, 0::block_columns].astype(np.float64)  # float64 sums whatever the input's type
    for offset in range(1, block_columns):
        columns += strip[:, offset::block_columns]
    sums = columns[0::block_rows].copy()
    for offset in range(1, block_rows):
        sums += columns[offset::block_rows]
    return sums
