"""Row bands of tile-compressed FITS images, decoded without astropy's per-tile Python layer.

Archive frames are Rice-compressed, quantised float32 images tiled one row per tile (fpack's
layout), and our own products are GZIP_2 row tiles. astropy decodes such an image tile by tile
through several Python calls per tile while holding the GIL, which is most of its decode time and
serialises threads. Here a band of rows is read from the heap with one ``pread``. Quantised Rice
tiles then go through one C call per band (``_rice.c``) that decodes and unquantises every tile
with the GIL released; other tiles go through one GIL-releasing C call per tile (astropy's Rice
codec, or ISA-L's inflate), and the unquantising, un-shuffling and blank handling are done once per
band with numpy. So several threads decode in parallel inside one process, and the values are
exactly those astropy returns. Without the compiled ``_rice`` module (or with the pure-Python
kernels forced, see ``data_operations.native``) quantised Rice tiles take the per-tile path, which
gives the same bits.

Only the layouts above are handled (``RICE_1``/``GZIP_1``/``GZIP_2``, float32, tiles spanning whole
rows), and Rice only while a Rice codec is available (``astropy_codec``); ``TiledImage.open``
returns ``None`` for anything else, and the caller falls back to astropy's ``section``.

The pseudo-random dither sequence and the dequantisation formula follow the FITS tiled image
compression convention (FITS standard 4.0, section 10.2 and its appendix on the random generator).
"""
from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from isal import isal_zlib

from data_operations.frames.astropy_codec import rice_decoder
from data_operations.native import RICE_MODULE, compiled_module

RANDOM_COUNT = 10_000
DITHER_START_SPAN = 500  # the first random value of a tile picks its start within the first 500
DITHER_METHODS = {"NO_DITHER": -1, "SUBTRACTIVE_DITHER_1": 1, "SUBTRACTIVE_DITHER_2": 2}
# SUBTRACTIVE_DITHER_2 stores exact zeros as this value so that they survive quantisation.
ZERO_VALUE = -2147483646
ALGORITHMS = ("RICE_1", "RICE_ONE", "GZIP_1", "GZIP_2")
_ZLIB_ANY_HEADER = 47  # gzip or zlib stream, detected from its header
_TFORM = re.compile(r"^\s*(\d*)([A-Z])")
_COLUMN_CODES = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8", "L": "u1", "A": "S1",
                 "P": ">i4", "Q": ">i8"}


@functools.cache
def dither_sequence() -> np.ndarray:
    """The 10 000 float32 uniform deviates every FITS writer dithers with (a Park-Miller generator)."""
    multiplier, modulus = 16807.0, 2147483647.0
    seed = 1.0
    values = np.empty(RANDOM_COUNT, dtype=np.float32)
    for index in range(RANDOM_COUNT):
        product = multiplier * seed
        seed = product - modulus * int(product / modulus)
        values[index] = seed / modulus
    if int(seed) != 1043618065:  # the convention's check value after 10 000 draws
        raise RuntimeError("The FITS dither sequence did not reproduce its check value.")
    return values


@functools.cache
def _dither_sequence_f8() -> np.ndarray:
    return dither_sequence().astype(np.float64)


def dither_values(first_tile: int, count: int, tile_size: int, dither_seed: int) -> np.ndarray:
    """float64 (count, tile_size): the dither subtracted from each pixel of tiles ``first_tile``...

    Tile ``t`` (0-based) starts at the random value chosen by entry ``(t + ZDITHER0 - 1) mod 10000``
    and walks the sequence pixel by pixel; at its end it moves to the next entry's start.
    """
    sequence = _dither_sequence_f8()
    starts_from = (np.arange(first_tile, first_tile + count) + dither_seed - 1) % RANDOM_COUNT
    starts = (sequence[starts_from] * DITHER_START_SPAN).astype(np.int64)
    if tile_size + DITHER_START_SPAN <= RANDOM_COUNT:  # no tile can reach the end of the sequence
        windows = np.lib.stride_tricks.sliding_window_view(sequence, tile_size)
        return windows[starts]
    values = np.empty((count, tile_size), dtype=np.float64)
    for row, (entry, start) in enumerate(zip(starts_from.tolist(), starts.tolist(), strict=True)):
        filled = 0
        while filled < tile_size:
            taken = min(tile_size - filled, RANDOM_COUNT - start)
            values[row, filled:filled + taken] = sequence[start:start + taken]
            filled += taken
            entry = (entry + 1) % RANDOM_COUNT
            start = int(sequence[entry] * DITHER_START_SPAN)
    return values


def _table_dtype(header: fits.Header) -> np.dtype | None:
    """numpy dtype of one row of the binary table, or None for a column type not handled here."""
    fields = []
    for column in range(1, int(header["TFIELDS"]) + 1):
        match = _TFORM.match(str(header[f"TFORM{column}"]))
        if match is None or match.group(2) not in _COLUMN_CODES:
            return None
        repeat = int(match.group(1) or 1)
        code = match.group(2)
        if code in "PQ":
            repeat = 2  # a heap descriptor: element count, then byte offset
        fields.append((str(header[f"TTYPE{column}"]).strip().upper(), (_COLUMN_CODES[code], (repeat,))))
    dtype = np.dtype(fields)
    return dtype if dtype.itemsize == int(header["NAXIS1"]) else None


def _column_code(header: fits.Header, name: str) -> str:
    """The element type letter of a column (for a heap descriptor, of the values it points to)."""
    for column in range(1, int(header["TFIELDS"]) + 1):
        if str(header[f"TTYPE{column}"]).strip().upper() == name:
            text = str(header[f"TFORM{column}"]).strip().lstrip("0123456789")
            return text[1:2] if text[:1] in ("P", "Q") else text[:1]
    return ""


@dataclass(frozen=True)
class TiledImage:
    """Where the tiles of one compressed float32 image are, and how to turn them back into pixels."""

    path: Path
    heap_start: int
    shape: tuple[int, int]  # (ny, nx) of the image
    tile_rows: int
    algorithm: str
    blocksize: int
    descriptors: np.ndarray  # (tiles, 2) int64: compressed bytes, heap offset
    fallback: np.ndarray | None  # same for GZIP_COMPRESSED_DATA / UNCOMPRESSED_DATA tiles
    fallback_gzipped: bool
    scale: np.ndarray | None  # per tile, when the image is quantised
    zero: np.ndarray | None
    blank: np.ndarray | None  # per tile ZBLANK, when any
    dither_method: int
    dither_seed: int

    @classmethod
    def open(cls, path: Path, header_offset: int, data_offset: int) -> TiledImage | None:
        """The layout of the compressed HDU whose raw header starts at ``header_offset``, if handled."""
        with open(path, "rb") as handle:
            handle.seek(header_offset)
            header = fits.Header.fromfile(handle)
            if not header.get("ZIMAGE") or int(header.get("ZNAXIS", 0)) != 2 or header.get("ZBITPIX") != -32:
                return None
            algorithm = str(header.get("ZCMPTYPE", "")).strip().upper()
            ny, nx = int(header["ZNAXIS2"]), int(header["ZNAXIS1"])
            tile_rows = int(header.get("ZTILE2", 1))
            if algorithm not in ALGORITHMS or int(header.get("ZTILE1", nx)) != nx or tile_rows < 1:
                return None
            dtype = _table_dtype(header)
            if dtype is None or "COMPRESSED_DATA" not in dtype.names:
                return None
            settings = {str(header.get(f"ZNAME{i}", "")).strip().upper(): header.get(f"ZVAL{i}") for i in range(1, 10)}
            if algorithm.startswith("RICE") and int(settings.get("BYTEPIX") or 4) != 4:
                return None
            handle.seek(data_offset)
            table = np.frombuffer(handle.read(dtype.itemsize * int(header["NAXIS2"])), dtype=dtype)
        tiles = -(-ny // tile_rows)
        if len(table) != tiles:
            return None
        quantised = "ZSCALE" in dtype.names and "ZZERO" in dtype.names
        if algorithm.startswith("RICE") and rice_decoder() is None and not (quantised and compiled_module(RICE_MODULE)):
            return None  # no Rice codec here: astropy's public section decodes these tiles
        # Tiles that would not quantise are kept losslessly, gzipped (the usual) or as raw floats.
        fallback_name = next((name for name in ("GZIP_COMPRESSED_DATA", "UNCOMPRESSED_DATA") if name in dtype.names),
                             None)
        if fallback_name == "UNCOMPRESSED_DATA" and _column_code(header, fallback_name) != "E":
            return None
        blank = None
        if "ZBLANK" in dtype.names:
            blank = table["ZBLANK"][:, 0].astype(np.int64)
        elif "ZBLANK" in header:
            blank = np.full(tiles, int(header["ZBLANK"]), dtype=np.int64)
        theap = int(header.get("THEAP", int(header["NAXIS1"]) * int(header["NAXIS2"])))
        heap_bytes = int(header.get("PCOUNT", 0)) - (theap - int(header["NAXIS1"]) * int(header["NAXIS2"]))
        descriptors = table["COMPRESSED_DATA"].astype(np.int64)
        if (descriptors < 0).any() or (descriptors.sum(axis=1) > heap_bytes).any():
            raise ValueError(f"{Path(path).name}: a tile lies outside the compressed data heap.")
        return cls(
            path=Path(path), heap_start=data_offset + theap, shape=(ny, nx), tile_rows=tile_rows,
            algorithm=algorithm, blocksize=int(settings.get("BLOCKSIZE") or 32),
            descriptors=descriptors,
            fallback=table[fallback_name].astype(np.int64) if fallback_name else None,
            fallback_gzipped=fallback_name == "GZIP_COMPRESSED_DATA",
            scale=table["ZSCALE"][:, 0].astype(np.float64) if quantised else None,
            zero=table["ZZERO"][:, 0].astype(np.float64) if quantised else None,
            blank=blank,
            dither_method=DITHER_METHODS.get(str(header.get("ZQUANTIZ", "NO_DITHER")).strip().upper(), -1),
            dither_seed=int(header.get("ZDITHER0", 0)),
        )

    def read_rows(self, y0: int, y1: int, out: np.ndarray) -> None:
        """Decode rows ``y0:y1`` into ``out`` (float32, shape (y1 - y0, k) with k <= nx: columns 0:k)."""
        first, last = y0 // self.tile_rows, -(-y1 // self.tile_rows)
        with open(self.path, "rb", buffering=0) as handle:
            fd = handle.fileno()
            if self.tile_rows == 1:  # each tile is one row of ``out``: decode straight into it
                self._decode_tiles(fd, first, last, out)
                return
            nx = self.shape[1]
            rows = min(self.shape[0], last * self.tile_rows) - first * self.tile_rows
            pixels = np.empty((rows, nx), dtype=np.float32)
            self._decode_tiles(fd, first, last, pixels)
        skip = y0 - first * self.tile_rows
        out[...] = pixels[skip:skip + (y1 - y0), :out.shape[1]]

    # --- tiles -------------------------------------------------------------------------------
    def _tile_size(self, tile: int) -> int:
        rows = min(self.shape[0], (tile + 1) * self.tile_rows) - tile * self.tile_rows
        return rows * self.shape[1]

    def _heap_run(self, fd: int, first: int, last: int) -> tuple[bytes, np.ndarray]:
        """The compressed bytes of tiles ``first:last`` in one buffer, and where each tile starts in it.

        One read when the tiles lie together in the heap, as writers put them; else one per tile.
        """
        descriptors = self.descriptors[first:last]
        lengths, offsets = descriptors[:, 0], descriptors[:, 1]
        used = lengths > 0
        if not used.any():
            return b"", np.zeros(len(descriptors), dtype=np.int64)
        low = int(offsets[used].min())
        span = int((offsets[used] + lengths[used]).max()) - low
        if span > 2 * int(lengths.sum()) + 65536:  # scattered tiles
            pieces = [self._pread(fd, length, offset) for length, offset in descriptors.tolist()]
            return b"".join(pieces), np.cumsum(lengths) - lengths
        return self._pread(fd, span, low), np.where(used, offsets - low, 0)

    def _compressed_tiles(self, fd: int, first: int, last: int) -> list[bytes]:
        """Each tile's compressed bytes."""
        data, starts = self._heap_run(fd, first, last)
        return [data[start:start + length]
                for start, length in zip(starts.tolist(), self.descriptors[first:last, 0].tolist(), strict=True)]

    def _pread(self, fd: int, length: int, offset: int) -> bytes:
        data = os.pread(fd, length, self.heap_start + offset) if length else b""
        if len(data) != length:
            raise OSError(f"{self.path.name} ends inside its compressed image data.")
        return data

    def _decode_tiles(self, fd: int, first: int, last: int, out: np.ndarray) -> None:
        """Pixels of tiles ``first:last`` into ``out`` ((rows, k) float32, k <= nx; rows = the tiles' rows)."""
        sizes = [self._tile_size(tile) for tile in range(first, last)]
        rice = compiled_module(RICE_MODULE) if self.algorithm.startswith("RICE") and self.scale is not None else None
        if rice is not None:
            self._decode_rice(rice.decode_tiles, fd, first, last, sizes, out)
        else:
            self._decode_generic(fd, first, last, sizes, out)
        if self.fallback is not None and (self.descriptors[first:last, 0] == 0).any():
            self._fill_fallback_tiles(fd, out, first, sizes)

    def _decode_rice(self, decode_rice_tiles, fd: int, first: int, last: int, sizes: list[int],
                     out: np.ndarray) -> None:
        """Quantised Rice tiles: decoded and unquantised in one C call that releases the GIL."""
        if out.strides[1] != out.itemsize:  # the decoder writes rows of contiguous pixels
            rows = scratch("rows", out.size, np.float32).reshape(out.shape)
            self._decode_rice(decode_rice_tiles, fd, first, last, sizes, rows)
            out[...] = rows
            return
        data, starts = self._heap_run(fd, first, last)
        blank = None if self.blank is None else np.ascontiguousarray(self.blank[first:last])
        try:
            decode_rice_tiles(data, starts, np.ascontiguousarray(self.descriptors[first:last, 0]),
                              np.asarray(sizes, dtype=np.int64), self.blocksize, self.scale[first:last],
                              self.zero[first:last], blank, self.dither_method, first, self.dither_seed,
                              _dither_sequence_f8(), self.shape[1], out)
        except ValueError as error:
            raise ValueError(f"{self.path.name}: {error}") from None

    def _decode_generic(self, fd: int, first: int, last: int, sizes: list[int], out: np.ndarray) -> None:
        """GZIP tiles, and Rice tiles that are not quantised: one Python call per tile, then numpy."""
        decoded = scratch("decoded", 4 * sum(sizes), np.uint8)
        view = memoryview(decoded)
        position = 0
        for tile, (compressed, size) in enumerate(zip(self._compressed_tiles(fd, first, last), sizes, strict=True)):
            try:
                view[position:position + 4 * size] = self._decode_one(compressed, size)
            except MemoryError:
                raise
            except Exception as error:  # the codecs raise their own types; all mean a damaged tile
                kind = "Rice" if self.algorithm.startswith("RICE") else "GZIP"
                raise ValueError(f"{self.path.name}: tile {first + tile} holds malformed {kind}-compressed data."
                                 ) from error
            position += 4 * size
        nx = self.shape[1]
        if self.algorithm == "GZIP_2":
            decoded = _unshuffle(decoded, sizes)
        big_endian = not self.algorithm.startswith("RICE")
        if self.scale is None:  # stored losslessly
            out[...] = np.frombuffer(decoded, dtype=">f4" if big_endian else "=f4").reshape(-1, nx)[:, :out.shape[1]]
        else:
            integers = np.frombuffer(decoded, dtype=">i4" if big_endian else "=i4")
            self._unquantise(integers, first, sizes, out)

    def _decode_one(self, compressed: bytes, size: int) -> bytes:
        """One tile's integers (or raw floats) as bytes: native order for Rice, big-endian for GZIP."""
        if not compressed:  # stored in the fallback column; a placeholder keeps positions aligned
            return bytes(size * 4)
        if self.algorithm.startswith("RICE"):
            decoder = rice_decoder()
            if decoder is None:
                raise ValueError("no Rice codec is available for this tile.")
            decoded = decoder(compressed, self.blocksize, 4, size)
            if len(decoded) != 4 * size:
                raise ValueError("a Rice tile decoded to the wrong number of pixels.")
            return decoded
        return isal_zlib.decompress(compressed, _ZLIB_ANY_HEADER)

    def _unquantise(self, integers: np.ndarray, first: int, sizes: list[int], out: np.ndarray) -> None:
        """value = (q - dither + 0.5) * scale + zero in double precision, cast to float32, as the
        convention (and every reader) does; then blanks become NaN and SUBTRACTIVE_DITHER_2 zeros 0."""
        nx, width = self.shape[1], out.shape[1]
        work = scratch("work", integers.size, np.float64)
        position = 0
        for tile, count, size in _runs_of_equal_size(first, sizes):
            end = position + count * size
            grid = work[position:end].reshape(count, size)
            quantised = integers[position:end].reshape(count, size)
            scale = self.scale[tile:tile + count, None]
            if self.dither_method == DITHER_METHODS["NO_DITHER"]:
                np.multiply(quantised, scale, out=grid)
            else:
                _subtract_dither(quantised, tile, self.dither_seed, out=grid)
                grid += 0.5
                grid *= scale
            grid += self.zero[tile:tile + count, None]
            position = end
        out[...] = work.reshape(-1, nx)[:, :width]
        rows = integers.reshape(-1, nx)[:, :width]
        if self.dither_method == DITHER_METHODS["SUBTRACTIVE_DITHER_2"]:
            np.copyto(out, 0.0, where=rows == ZERO_VALUE)
        if self.blank is not None:
            blanks = self.blank[first:first + len(sizes)]
            if (blanks == blanks[0]).all():
                np.copyto(out, np.nan, where=rows == blanks[0])
            else:
                per_row = np.repeat(blanks, [size // nx for size in sizes])
                np.copyto(out, np.nan, where=rows == per_row[:, None])

    def _fill_fallback_tiles(self, fd: int, out: np.ndarray, first: int, sizes: list[int]) -> None:
        """Tiles that did not quantise well are stored losslessly in a second column: copy them in."""
        nx, width = self.shape[1], out.shape[1]
        row = 0
        for tile, size in zip(range(first, first + len(sizes)), sizes, strict=True):
            tile_rows = size // nx
            if self.descriptors[tile, 0] == 0:
                length, offset = (int(value) for value in self.fallback[tile])
                if length == 0:
                    raise ValueError(f"{self.path.name} has a tile with no data in any column.")
                if self.fallback_gzipped:
                    stored = isal_zlib.decompress(self._pread(fd, length, offset), _ZLIB_ANY_HEADER)
                else:
                    stored = self._pread(fd, length * 4, offset)
                values = np.frombuffer(stored, dtype=">f4", count=size).reshape(tile_rows, nx)
                out[row:row + tile_rows] = values[:, :width]
            row += tile_rows


def _subtract_dither(quantised: np.ndarray, first_tile: int, dither_seed: int, out: np.ndarray) -> None:
    """out = quantised - dither, tile by tile (rows of ``quantised``) without building the dither array."""
    count, size = quantised.shape
    if size + DITHER_START_SPAN > RANDOM_COUNT:
        np.subtract(quantised, dither_values(first_tile, count, size, dither_seed), out=out)
        return
    sequence = _dither_sequence_f8()
    entries = (np.arange(first_tile, first_tile + count) + dither_seed - 1) % RANDOM_COUNT
    for row, start in enumerate((sequence[entries] * DITHER_START_SPAN).astype(np.int64).tolist()):
        np.subtract(quantised[row], sequence[start:start + size], out=out[row])


_thread_scratch = threading.local()


def scratch(name: str, count: int, dtype: type | np.dtype) -> np.ndarray:
    """A per-thread buffer of ``count`` items, reused from call to call.

    Fresh pages are expensive (each first touch faults); bands are decoded many times over, so
    every thread keeps its largest buffer of each kind instead of allocating one per band.
    """
    dtype = np.dtype(dtype)
    buffers = _thread_scratch.__dict__
    buffer = buffers.get(name)
    if buffer is None or buffer.nbytes < count * dtype.itemsize:
        buffer = buffers[name] = np.empty(count * dtype.itemsize, dtype=np.uint8)
    return buffer[:count * dtype.itemsize].view(dtype)


def _runs_of_equal_size(first: int, sizes: list[int]) -> list[tuple[int, int, int]]:
    """(first tile, tile count, tile size) of consecutive tiles of one size: all of them but a short last tile."""
    runs: list[tuple[int, int, int]] = []
    for offset, size in enumerate(sizes):
        if runs and runs[-1][2] == size:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, size)
        else:
            runs.append((first + offset, 1, size))
    return runs


def _unshuffle(decoded: bytes, sizes: list[int]) -> bytes:
    """GZIP_2 stores each tile byte-shuffled (every value's first byte, then every second, ...)."""
    shuffled = np.frombuffer(decoded, dtype=np.uint8)
    parts = []
    position = 0
    for _, count, size in _runs_of_equal_size(0, sizes):
        end = position + 4 * count * size
        parts.append(shuffled[position:end].reshape(count, 4, size).transpose(0, 2, 1).tobytes())
        position = end
    return b"".join(parts)
