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
    rows_in, columns_in = data.shape
    if rows_in % shape[0] == 0 and columns_in % shape[1] == 0:
        return _block_average(data, shape)
    row_weights = overlap_weights(rows_in, shape[0]).tocsc()
    column_weights = overlap_weights(columns_in, shape[1])
    totals = np.zeros(shape, dtype=np.float64)
    areas = np.zeros(shape, dtype=np.float64)
    for first in range(0, rows_in, STRIP_ROWS):
        last = min(rows_in, first + STRIP_ROWS)
        strip = np.asarray(data[first:last], dtype=np.float64)
        finite = np.isfinite(strip)
        strip[~finite] = 0.0
        strip_rows = row_weights[:, first:last]
        totals += strip_rows @ (column_weights @ strip.T).T
        areas += strip_rows @ (column_weights @ finite.astype(np.float64).T).T
    with np.errstate(invalid="ignore", divide="ignore"):
        averaged = np.where(areas > 1e-9, totals / np.where(areas > 0, areas, 1.0), np.nan)
    return averaged.astype(np.float32)


def _block_average(data: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """:func:`area_average` when the input is a whole number of output cells in both directions.

    Each cell is then a plain block of pixels, so the weighted sums reduce to block sums and the
    mean of the finite pixels is sum / count: the same values without the sparse products.
    """
    rows_in, columns_in = data.shape
    block_rows, block_columns = rows_in // shape[0], columns_in // shape[1]
    strip_rows = max(1, STRIP_ROWS // block_rows) * block_rows
    totals = np.empty(shape, dtype=np.float64)
    counts = np.empty(shape, dtype=np.float64)
    for first in range(0, rows_in, strip_rows):
        last = min(rows_in, first + strip_rows)
        strip = np.asarray(data[first:last], dtype=np.float64)
        finite = np.isfinite(strip)
        strip[~finite] = 0.0
        cells = slice(first // block_rows, last // block_rows)
        totals[cells] = _block_sums(strip, block_rows, block_columns)
        counts[cells] = _block_sums(finite.astype(np.float64), block_rows, block_columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        averaged = np.where(counts > 0, totals / np.where(counts > 0, counts, 1.0), np.nan)
    return averaged.astype(np.float32)


def _block_sums(strip: np.ndarray, block_rows: int, block_columns: int) -> np.ndarray:
    """Sums of ``block_rows`` x ``block_columns`` blocks, as strided whole-array additions (fast in numpy)."""
    columns = strip[:, 0::block_columns].copy()
    for offset in range(1, block_columns):
        columns += strip[:, offset::block_columns]
    sums = columns[0::block_rows].copy()
    for offset in range(1, block_rows):
        sums += columns[offset::block_rows]
    return sums
