"""A tile-compressed FITS writer that compresses row bands on several threads while they arrive.

astropy's ``CompImageHDU`` compresses a finished image in one thread with ``gzip`` level 9, which
on a noisy 4096x4096 float32 image takes ~7 s. This writer produces the same standard layout (an
empty primary HDU and a ``BINTABLE`` with ``ZIMAGE = T``, ``ZCMPTYPE = 'GZIP_2'``, one tile per
row, no quantisation, so the round trip is bit-exact) but:

- compresses each row tile with ISA-L's deflate (``isal``) at level 1: after the GZIP_2 byte
  shuffle the exponent bytes are long runs and the mantissa bytes barely compress at any level,
  so this gives zlib's level-1 size at ~2.5x its speed (~0.18 s of CPU per 4096x4096 image
  against ~0.45 s with zlib's run-length strategy and ~7 s with astropy's level 9). The stream
  is a standard gzip member that any inflate decodes.
- compresses on a small thread pool (``isal`` releases the GIL), so callers can hand over bands
  while they compute the next ones; the heap is streamed to disk in row order, so memory holds
  only the bands in flight.
- computes ``DATASUM`` and ``CHECKSUM`` itself (FITS checksum convention), then renames the
  temporary file into place, so a half-written product never appears under its final name.
"""
from __future__ import annotations

import io
import os
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from isal import isal_zlib

BLOCK = 2880
GZIP_LEVEL = 1  # ISA-L levels run 0-3
GZIP_WBITS = 31  # a gzip member, as the FITS GZIP algorithms specify
MAX_PENDING_BANDS = 8  # bands compressed ahead of the file write; bounds memory
DEFAULT_THREADS = min(2, os.cpu_count() or 1)
_CHECKSUM_EXCLUDED = frozenset(range(0x3A, 0x41)) | frozenset(range(0x5B, 0x61))


# --- FITS checksum convention -------------------------------------------------------------------
def ones_complement_sum(data: bytes | memoryview | np.ndarray, start: int = 0) -> int:
    """32-bit ones' complement sum of big-endian words (length a multiple of 4), added to ``start``."""
    words = np.frombuffer(data, dtype=">u4")
    total = int(words.sum(dtype=np.uint64)) + start
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def encode_checksum(value: int) -> str:
    """The 16-character ASCII encoding of a 32-bit checksum (complemented by the caller)."""
    chars = [0] * 16
    for byte_index in range(4):
        byte = (value >> (24 - 8 * byte_index)) & 0xFF
        quotient, remainder = byte // 4 + 0x30, byte % 4
        quad = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:
            changed = False
            for pair in (0, 2):
                if quad[pair] in _CHECKSUM_EXCLUDED or quad[pair + 1] in _CHECKSUM_EXCLUDED:
                    quad[pair] += 1
                    quad[pair + 1] -= 1
                    changed = True
        for position in range(4):
            chars[4 * position + byte_index] = quad[position]
    text = bytes(chars).decode("ascii")
    return text[-1] + text[:-1]


def _padded(length: int) -> int:
    return -(-length // BLOCK) * BLOCK


# --- tile compression ---------------------------------------------------------------------------
def gzip2_row_tiles(rows: np.ndarray) -> list[bytes]:
    """GZIP_2 tiles of a (k, nx) float32 band, one per row: big-endian, byte-shuffled, gzipped."""
    count, width = rows.shape
    shuffled = np.empty((count, 4, width), dtype=np.uint8)
    np.copyto(shuffled, rows.astype(">f4", copy=False).view(np.uint8).reshape(count, width, 4).transpose(0, 2, 1))
    return [isal_zlib.compress(row, GZIP_LEVEL, wbits=GZIP_WBITS) for row in shuffled]


class CompressedImageWriter:
    """Write a float32 image to ``path`` as primary + GZIP_2 ``SCI``, band by band, on threads.

    Call :meth:`write_rows` with consecutive row bands (top to bottom, the array must not change
    until :meth:`close`), then :meth:`close`; or use as a context manager, which discards the
    temporary file when the block raises.
    """

    def __init__(self, path: Path | str, shape: tuple[int, int], header: fits.Header, *,
                 extname: str = "SCI", threads: int = DEFAULT_THREADS):
        self.path = Path(path)
        self.shape = (int(shape[0]), int(shape[1]))
        self._image_cards = list(header.cards)
        self._extname = extname
        self._next_row = 0
        self._tile_sizes: list[int] = []
        self._pending: deque[Future] = deque()
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="fits-gzip")
        self._temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        self._file = open(self._temporary, "wb")
        self._file.write(self._primary_bytes())
        self._header_offset = self._file.tell()
        self._header_length = len(self._table_header(heap_bytes=0, max_tile=0, datasum=0, checksum="0" * 16))
        self._table_offset = self._header_offset + self._header_length
        self._file.seek(self._table_offset + 8 * self.shape[0])  # descriptors are written at close

    @staticmethod
    def _primary_bytes() -> bytes:
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU()]).writeto(buffer, checksum=True)
        return buffer.getvalue()

    def _table_header(self, *, heap_bytes: int, max_tile: int, datasum: int, checksum: str) -> bytes:
        ny, nx = self.shape
        header = fits.Header([
            ("XTENSION", "BINTABLE", "binary table extension"),
            ("BITPIX", 8, "array data type"),
            ("NAXIS", 2, "number of array dimensions"),
            ("NAXIS1", 8, "width of table in bytes"),
            ("NAXIS2", ny, "number of rows in table"),
            ("PCOUNT", heap_bytes, "number of group parameters"),
            ("GCOUNT", 1, "number of groups"),
            ("TFIELDS", 1, "number of fields in each row"),
            ("TTYPE1", "COMPRESSED_DATA", ""),
            ("TFORM1", f"1PB({max_tile})", ""),
            ("ZIMAGE", True, "extension contains compressed image"),
            ("ZTENSION", "IMAGE", "Image extension"),
            ("ZBITPIX", -32, "array data type"),
            ("ZNAXIS", 2, "number of array dimensions"),
            ("ZNAXIS1", nx, ""),
            ("ZNAXIS2", ny, ""),
            ("ZPCOUNT", 0, "number of parameters"),
            ("ZGCOUNT", 1, "number of groups"),
            ("ZTILE1", nx, "size of tiles to be compressed"),
            ("ZTILE2", 1, "size of tiles to be compressed"),
            ("ZCMPTYPE", "GZIP_2", "compression algorithm"),
            ("EXTNAME", self._extname, "name of this binary table extension"),
        ])
        for card in self._image_cards:
            header.append(card, end=True)
        # Every value fits one 80-character card, so the header length never depends on them.
        header.append(("CHECKSUM", checksum, "HDU checksum"), end=True)
        header.append(("DATASUM", str(datasum), "data unit checksum"), end=True)
        return header.tostring().encode("ascii")

    # --- writing ------------------------------------------------------------------------------
    def write_rows(self, y0: int, rows: np.ndarray) -> None:
        """Queue rows ``y0 .. y0 + len(rows)`` for compression; bands must come in order."""
        if y0 != self._next_row or rows.ndim != 2 or rows.shape[1] != self.shape[1]:
            raise ValueError(f"expected rows from {self._next_row} of width {self.shape[1]}.")
        self._next_row += rows.shape[0]
        self._pending.append(self._pool.submit(gzip2_row_tiles, rows))
        while self._pending and (self._pending[0].done() or len(self._pending) > MAX_PENDING_BANDS):
            self._store(self._pending.popleft().result())

    def _update_card(self, keyword: str, value: Any) -> None:
        for index, card in enumerate(self._image_cards):
            if card.keyword == keyword:
                self._image_cards[index] = fits.Card(keyword, value, card.comment)
                return
        raise KeyError(f"{keyword} is not in the header; reserve it when opening the writer.")

    def _store(self, tiles: list[bytes]) -> None:
        for tile in tiles:
            self._file.write(tile)
            self._tile_sizes.append(len(tile))

    def close(self, extensions: Sequence[fits.ImageHDU | fits.CompImageHDU] = (),
              header_updates: Mapping[str, Any] | None = None) -> Path:
        """Finish the heap, write descriptors, header and checksums, and move the file into place.

        ``extensions`` are appended after the image (astropy writes them; the image is not rewritten).
        ``header_updates`` give new values to keywords the header already has (values known only
        once every band is written, such as counts); a card keeps its size, so the header does too.
        """
        for keyword, value in (header_updates or {}).items():
            self._update_card(keyword, value)
        if self._next_row != self.shape[0]:
            raise ValueError(f"only {self._next_row} of {self.shape[0]} rows were written.")
        while self._pending:
            self._store(self._pending.popleft().result())
        self._pool.shutdown()
        ny = self.shape[0]
        sizes = np.asarray(self._tile_sizes, dtype=np.int64)
        heap_bytes = int(sizes.sum())
        descriptors = np.empty((ny, 2), dtype=">i4")
        descriptors[:, 0] = sizes
        descriptors[:, 1] = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        data_bytes = 8 * ny + heap_bytes
        self._file.write(b"\0" * (_padded(data_bytes) - data_bytes))
        self._file.seek(self._table_offset)
        self._file.write(descriptors.tobytes())
        self._file.flush()
        datasum = self._data_sum(_padded(data_bytes))
        zero_header = self._table_header(heap_bytes=heap_bytes, max_tile=int(sizes.max(initial=0)),
                                         datasum=datasum, checksum="0" * 16)
        hdu_sum = ones_complement_sum(zero_header, datasum)
        header = self._table_header(heap_bytes=heap_bytes, max_tile=int(sizes.max(initial=0)), datasum=datasum,
                                    checksum=encode_checksum(~hdu_sum & 0xFFFFFFFF))
        if len(header) != self._header_length:
            raise RuntimeError("the FITS header changed length while the data was written.")
        self._file.seek(self._header_offset)
        self._file.write(header)
        self._file.close()
        if extensions:
            with fits.open(self._temporary, mode="append") as hdul:
                for extension in extensions:
                    hdul.append(extension)
        os.replace(self._temporary, self.path)
        return self.path

    def _data_sum(self, length: int) -> int:
        total = 0
        with open(self._temporary, "rb") as handle:
            handle.seek(self._table_offset)
            remaining = length
            while remaining:
                chunk = handle.read(min(remaining, 8 * 1024 * 1024))
                total = ones_complement_sum(chunk, total)
                remaining -= len(chunk)
        return total

    def abort(self) -> None:
        """Drop the temporary file and stop the compressor threads."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)
        if not self._file.closed:
            self._file.close()
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> CompressedImageWriter:
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is not None:
            self.abort()
