"""Reading the science images of several frames together, a band of rows at a time.

A 4096x4096 float32 frame is 64 MiB, and an operation may combine hundreds; only a band of rows
from every frame is ever in memory. Row-tiled compressed images (archive frames and our own
products) are decoded by ``TiledImage``, which reads only the tiles a band touches and releases the
GIL while it decodes, so a few threads fill the next band while the caller combines this one. Other
layouts go through astropy's ``section``, which likewise touches only the rows asked for. Opening a
stack costs the headers and the tile tables alone.

The science image is the one ``science.science_hdu_index`` names (``SCI``, else the first 2-D
image). Every pixel that decodes to +inf or -inf is read as NaN (missing, like a blank), for every
operation and analysis action alike; ``FrameStack.infinite_counts`` says how many per frame.
"""
from __future__ import annotations

import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.frames.science import SCI_EXTENSION, compressed_header_problem, science_hdu_index
from data_operations.frames.tiled import TiledImage
from data_operations.kernels.threads import core_count

# Bands larger than this buy no speed but cost fresh memory; much smaller ones make astropy's
# per-call section overhead show (measured: 128+ rows per call decode ~30% faster than 16-51).
EFFICIENT_BAND_BYTES = 16 * 1024 * 1024
# Below this many pixels in the whole stack, decoder threads cost more than they save.
PARALLEL_MIN_PIXELS = 1024 * 1024
FLOAT32_BYTES = 4
# Bands decoded ahead of the one being combined, each in its own buffer: with two, a decoder
# thread that finishes its frames early starts on the band after next instead of idling (measured
# ~8% faster Median band phase than one ahead, on 10x4096^2 and 30x3072x2048).
BANDS_AHEAD = 2
# Band-sized buffers alive at once: the one being combined and those decoded ahead.
BAND_COPIES = BANDS_AHEAD + 1

_IMAGE_HDU_TYPES = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)
__all__ = ["SCI_EXTENSION", "FrameInfo", "FrameStack", "band_rows_for_budget", "efficient_band_rows"]


def band_rows_for_budget(budget_bytes: int, frame_count: int, width: int) -> int:
    """Rows per band so that the ``BAND_COPIES`` band buffers fit in ``budget_bytes``.

    rows = max(1, budget_bytes // (frame_count * width * 4 bytes * BAND_COPIES)); at least one row
    is always read, so a budget below one row is exceeded rather than refused.
    """
    bytes_per_row = max(1, frame_count) * max(1, width) * FLOAT32_BYTES * BAND_COPIES
    return max(1, int(budget_bytes) // bytes_per_row)


def efficient_band_rows(budget_bytes: int, frame_count: int, width: int) -> int:
    """Rows per band within ``budget_bytes`` and no larger than ``EFFICIENT_BAND_BYTES`` per buffer."""
    capped = max(1, EFFICIENT_BAND_BYTES // (max(1, frame_count) * max(1, width) * FLOAT32_BYTES))
    return min(band_rows_for_budget(budget_bytes, frame_count, width), capped)


def default_decoder_workers(pixels: int) -> int:
    """Decoder threads for a stack of ``pixels``: one per core, none for small stacks."""
    cores = core_count()
    return cores if cores > 1 and pixels >= PARALLEL_MIN_PIXELS else 0


@dataclass(frozen=True)
class FrameInfo:
    """One opened frame: where it is, what to call it in messages, its image shape and header."""

    path: Path
    display_name: str
    shape: tuple[int, int]  # (ny, nx) = (NAXIS2, NAXIS1)
    header: fits.Header
    infinite_count: int = 0  # +-inf pixels read as NaN (filled in by ``read_image``)


def _unreadable(name: str) -> OperationError:
    return OperationError(f"Frame {name} is not a readable FITS file (truncated or corrupt).")


def _stored_data_bytes(header: fits.Header) -> int:
    """Bytes of an HDU's data on disk, from its raw header (FITS standard, section 4.4.1)."""
    axes = [int(header.get(f"NAXIS{axis}", 0)) for axis in range(1, int(header.get("NAXIS", 0)) + 1)]
    if not axes:
        return 0
    bytes_per_value = abs(int(header["BITPIX"])) // 8
    return bytes_per_value * int(header.get("GCOUNT", 1)) * (int(header.get("PCOUNT", 0)) + math.prod(axes))


def _file_offsets(hdul: fits.HDUList, index: int) -> tuple[int, int]:
    """Where HDU ``index``'s header and data start in the file.

    ``HDUList.fileinfo`` gives these too, but first checks whether any header grew since it was
    read, which costs ~4 ms per call: more than everything else in opening a frame. The HDU keeps
    both offsets from parsing; fileinfo is the fallback should a future astropy not.
    """
    hdu = hdul[index]
    header_offset, data_offset = getattr(hdu, "_header_offset", None), getattr(hdu, "_data_offset", None)
    if isinstance(header_offset, int) and isinstance(data_offset, int):
        return header_offset, data_offset
    info = hdul.fileinfo(index)
    return int(info["hdrLoc"]), int(info["datLoc"])


def _check_complete(hdul: fits.HDUList, hdu_index: int, path: Path, name: str) -> None:
    """Refuse a file that ends before the chosen HDU's data does, or whose compression header lies.

    astropy only warns about truncation at open and fails later, mid-band; checking here fails
    before any work is done. The raw on-disk header is read because a compressed image's
    ``header`` describes the image, not the stored table. Missing final padding is tolerated.
    """
    header_offset, data_offset = _file_offsets(hdul, hdu_index)
    with open(path, "rb") as handle:
        handle.seek(header_offset)
        stored_header = fits.Header.fromfile(handle)
    if isinstance(hdul[hdu_index], fits.CompImageHDU):
        problem = compressed_header_problem(stored_header)
        if problem is not None:
            raise OperationError(f"Frame {name} has a malformed compressed image header: {problem}.")
    if os.path.getsize(path) < data_offset + _stored_data_bytes(stored_header):
        raise _unreadable(name)


def _has_unparsed_bytes(hdul: fits.HDUList, path: Path) -> bool:
    """True when bytes follow the last HDU astropy parsed: a damaged header cut the file short."""
    info = hdul.fileinfo(len(hdul) - 1)
    return os.path.getsize(path) > info["datLoc"] + info["datSpan"]


def _image_shape(hdu: Any, name: str) -> tuple[int, int]:
    shape = tuple(hdu.shape) if isinstance(hdu, _IMAGE_HDU_TYPES) else ()
    if len(shape) != 2 or min(shape) < 1:
        raise OperationError(f"Frame {name} has no 2-D image data.")
    return int(shape[0]), int(shape[1])


def _locate_science_image(hdul: fits.HDUList, path: Path, name: str) -> tuple[Any, tuple[int, int]]:
    """The science HDU and its (ny, nx), once the file is known to hold all of its data."""
    try:
        index = science_hdu_index(hdul)
        if index is None:
            raise OperationError(f"Frame {name} has no 2-D image data.")
        shape = _image_shape(hdul[index], name)
    except OperationError:
        # A missing SCI or empty image in a file with unparsed bytes is damage, not a wrong file.
        if _has_unparsed_bytes(hdul, path):
            raise _unreadable(name) from None
        raise
    _check_complete(hdul, index, path, name)
    return hdul[index], shape


def _infinite_to_nan(pixels: np.ndarray) -> int:
    """Replace +-inf by NaN in place; the number replaced. Two reductions when there are none."""
    if pixels.size == 0:
        return 0
    flat = pixels.reshape(-1) if pixels.flags.c_contiguous else pixels.ravel()
    # fmax/fmin skip NaN, so they are infinite exactly when some pixel is (or NaN if all are NaN)
    if not np.isinf(np.fmax.reduce(flat)) and not np.isinf(np.fmin.reduce(flat)):
        return 0
    infinite = np.isinf(pixels)
    count = int(np.count_nonzero(infinite))
    pixels[infinite] = np.nan
    return count



def band_views(count: int, shape: tuple[int, int], starts: Sequence[int], rows_per_band: int,
               copies: int) -> Callable[[int], np.ndarray]:
    """Band ``position`` as a ``(count, rows, nx)`` view of one of ``copies`` reused buffers (band i in buffer
    i % copies), so that a stack of any height is read with memory for ``copies`` bands."""
    ny, nx = shape
    buffers = [np.empty(count * rows_per_band * nx, dtype=np.float32) for _ in range(copies)]

    def band_view(position: int) -> np.ndarray:
        y0 = starts[position]
        y1 = min(ny, y0 + rows_per_band)
        return buffers[position % copies][: count * (y1 - y0) * nx].reshape(count, y1 - y0, nx)

    return band_view


def bands_in_turn(starts: Sequence[int], band_view: Callable[[int], np.ndarray],
                  fill: Callable[[int, np.ndarray], None]) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(y0, y1, band)`` in order, ``fill(position, band)`` run in this thread just before each."""
    for position, y0 in enumerate(starts):
        band = band_view(position)
        fill(position, band)
        yield y0, y0 + band.shape[1], band


def bands_ahead(starts: Sequence[int], submit: Callable[[int], list[Future]],
                band_view: Callable[[int], np.ndarray]) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(y0, y1, band)`` in order while ``submit(position)`` fills the next ``BANDS_AHEAD`` bands.

    ``submit`` queues the work that fills band ``position`` and returns its futures; leaving early
    cancels what has not started (the caller's pool waits for what is already running).
    """
    pending = deque(submit(position) for position in range(min(BANDS_AHEAD, len(starts))))
    try:
        for position, y0 in enumerate(starts):
            for future in pending.popleft():
                future.result()
            if position + BANDS_AHEAD < len(starts):
                pending.append(submit(position + BANDS_AHEAD))
            band = band_view(position)
            yield y0, y0 + band.shape[1], band
    finally:
        for futures in pending:
            for future in futures:
                future.cancel()

class FrameStack:
    """N frames opened together, read in row bands over their common region.

    The common region is rows ``[0:min ny]`` and columns ``[0:min nx]``: frames of different sizes
    are cropped from the origin, which keeps pixel (0, 0) and therefore CRPIX of each frame valid.
    Use as a context manager; the files stay open (headers parsed once) until ``close``.
    """

    def __init__(self, paths: Sequence[Path | str], names: Sequence[str] | None = None):
        if not paths:
            raise OperationError("No input frames were given.")
        if names is not None and len(names) != len(paths):
            raise ValueError("names must match paths one to one.")
        self._hduls: list[fits.HDUList] = []
        self._hdus: list = []
        self._tiled: list[TiledImage | None] = []
        self._locks: list[threading.Lock] = []  # astropy's file handles are not safe across threads
        self._count_lock = threading.Lock()
        self.frames: list[FrameInfo] = []
        self.infinite_counts: list[int] = []  # per frame: +-inf pixels read as NaN so far
        try:
            for index, path in enumerate(paths):
                path = Path(path)
                self._open(path, names[index] if names is not None else path.name)
        except BaseException:
            self.close()
            raise
        self.shape: tuple[int, int] = (
            min(frame.shape[0] for frame in self.frames),
            min(frame.shape[1] for frame in self.frames),
        )

    def _open(self, path: Path, name: str) -> None:
        try:
            hdul = fits.open(path)  # memmap unless scaling needs a copy
        except (OSError, ValueError, TypeError, EOFError) as error:
            raise _unreadable(name) from error
        self._hduls.append(hdul)
        try:
            hdu, shape = _locate_science_image(hdul, path, name)
            header = hdu.header.copy()
        except OperationError:
            raise
        except (OSError, ValueError, TypeError, EOFError, KeyError, IndexError) as error:
            raise _unreadable(name) from error
        index = hdul.index(hdu)
        self._hdus.append(hdu)
        self._tiled.append(self._tiled_layout(hdul, index, path, name) if isinstance(hdu, fits.CompImageHDU) else None)
        self._locks.append(threading.Lock())
        self.infinite_counts.append(0)
        self.frames.append(FrameInfo(path=path, display_name=name, shape=shape, header=header))

    @staticmethod
    def _tiled_layout(hdul: fits.HDUList, index: int, path: Path, name: str) -> TiledImage | None:
        try:
            return TiledImage.open(path, *_file_offsets(hdul, index))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise _unreadable(name) from error

    # --- context manager --------------------------------------------------------------------
    def __enter__(self) -> FrameStack:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for hdul in self._hduls:
            hdul.close()
        self._hduls.clear()
        self._hdus.clear()

    # --- reading ----------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self.frames)

    @property
    def cropped(self) -> bool:
        """True when the frames differ in shape, so some were cut to the common region."""
        return any(frame.shape != self.shape for frame in self.frames)

    @property
    def headers(self) -> list[fits.Header]:
        return [frame.header for frame in self.frames]

    def bands(self, rows_per_band: int, workers: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(y0, y1, band)`` with ``band`` float32 of shape (N, y1 - y0, nx).

        Buffers are allocated up front and reused: each yielded ``band`` may be overwritten once
        the caller advances, so consume (or copy) it before advancing. Every band is C-contiguous.
        ``workers`` decoder threads (default: one per core for large stacks, 0 = read in this
        process) decode the next band while the caller works on the current one.
        """
        # A frame with no finite pixel at all is a broken input, not data: say which one.
        finite_seen = np.zeros(self.count, dtype=bool)
        for y0, y1, band in self._decoded_bands(rows_per_band, workers):
            for index in np.flatnonzero(~finite_seen):
                finite_seen[index] = np.isfinite(band[index]).any()
            yield y0, y1, band
        if not finite_seen.all():
            name = self.frames[int(np.flatnonzero(~finite_seen)[0])].display_name
            raise OperationError(f"Frame {name} has no finite pixels (every value is NaN or infinite).")

    def _decoded_bands(self, rows_per_band: int, workers: int | None) -> Iterator[tuple[int, int, np.ndarray]]:
        """Bands from two reused buffers; with workers, the next band is decoded during this one."""
        ny, nx = self.shape
        rows_per_band = max(1, min(int(rows_per_band), ny))
        if workers is None:
            workers = default_decoder_workers(self.count * ny * nx)
        starts = list(range(0, ny, rows_per_band))
        band_view = band_views(self.count, self.shape, starts, rows_per_band, BANDS_AHEAD + 1 if workers else 1)
        if not workers:
            def fill(position: int, band: np.ndarray) -> None:
                for index in range(self.count):
                    self.read_rows(index, starts[position], starts[position] + band.shape[1], band[index])

            yield from bands_in_turn(starts, band_view, fill)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="frame-decode") as pool:
            def submit(position: int) -> list[Future]:
                band = band_view(position)
                y0 = starts[position]
                return [pool.submit(self.read_rows, index, y0, y0 + band.shape[1], band[index])
                        for index in range(self.count)]

            yield from bands_ahead(starts, submit, band_view)

    def read_rows(self, index: int, y0: int, y1: int, out: np.ndarray) -> None:
        """Decode rows y0:y1, columns 0:nx of frame ``index`` into ``out`` (float32, (y1 - y0, nx)).

        Infinite pixels become NaN and are added to ``infinite_counts[index]``.
        """
        frame = self.frames[index]
        try:
            tiled = self._tiled[index]
            if tiled is not None:
                tiled.read_rows(y0, y1, out)
            else:
                with self._locks[index]:
                    out[...] = self._hdus[index].section[y0:y1, 0:out.shape[1]]
            infinite = _infinite_to_nan(out)
            if infinite:
                with self._count_lock:
                    self.infinite_counts[index] += infinite
        except MemoryError:
            raise
        except OperationError:
            raise
        except Exception as error:  # decompression and I/O errors come in many types
            raise _unreadable(frame.display_name) from error
