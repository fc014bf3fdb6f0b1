"""Per-frame derived products, built once and kept on disk so requests never decompress a frame twice.

A frame is identified by its file's identity (a name that changes with its content, plus its size);
its products are files named ``<key>.<product>`` in an LRU-bounded :class:`FrameCache`, each written
to a temporary name and renamed into place, built under a per-product lock so concurrent requests
build it once. Any product may be evicted at any time; it is simply rebuilt from the one before it:

- ``header.json``: the SCI header (text and JSON), image shape, WCS summary, whether a CAT exists;
- ``pixels.npy``: the science image as float32, decoded by the operations' frame reader (so the same
  science-HDU rule, header checks and +-inf -> NaN policy), memory-mapped by readers (FITS row order,
  bottom row first);
- ``stats.json``: zscale limits and the finite maximum magnitude, from the pixels;
- ``raw-<n>.json``: the encoded ``raw-data`` answer for ``max_size`` n;
- ``catalog.json``: sources in 1-based FITS pixels (from CAT, else detected);
- ``thumb-<w>x<h>.jpg``: a zscale-stretched JPEG fitting in w x h pixels.
"""
from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from astropy.io import fits
from astropy.wcs import WCS

from data_operations.analysis import catalog as catalog_kernels
from data_operations.analysis import imaging
from data_operations.analysis.resample import AreaAverager, area_average
from data_operations.analysis.sky import celestial_wcs, header_json, science_hdu, wcs_summary
from data_operations.errors import OperationError
from data_operations.frames.reader import FrameStack
from data_operations.frames.single import write_image_npy
from data_operations.products import write_jpeg
from datalab.archive.frame_cache import FrameCache

HISTOGRAM_BINS = 100
# Bands of a first look: small, as every buffer's pages are touched for the first time (slow on VMs).
FIRST_LOOK_BAND_BYTES = 4 * 1024 * 1024
RAW_DATA_FORMAT = 1  # bump when the encoded raw-data answer changes shape, so old files are not served


def frame_key(identity: str) -> str:
    """A short file-name-safe key for a frame identity string."""
    return hashlib.sha256(identity.encode()).hexdigest()[:40]


class FrameProducts:
    """The cached derived products of one frame file.

    Parameters:
        fits_path (Path): the frame's FITS file (read only when a product must be built).
        identity (str): changes whenever the file's content may have changed (e.g. name with md5 + size).
        cache (FrameCache): where products live.
        label (str): how error messages name the frame (its basename).
    """

    def __init__(self, *, fits_path: Path, identity: str, cache: FrameCache, label: str) -> None:
        self.fits_path = Path(fits_path)
        self.key = frame_key(identity)
        self.cache = cache
        self.label = label

    # --- generic -------------------------------------------------------------------------------
    def _product(self, name: str, build: Callable[[Path], None]) -> Path:
        """Path of product ``name``, building it under its lock if it is not cached yet."""
        key = f"{self.key}.{name}"
        cached = self.cache.lookup(key)
        if cached is not None:
            return cached
        with self.cache.key_lock(key):
            cached = self.cache.lookup(key)
            if cached is not None:
                return cached
            temporary = self.cache.temporary_path(key)
            try:
                build(temporary)
                return self.cache.commit(temporary, key)
            finally:
                temporary.unlink(missing_ok=True)

    def _json_product(self, name: str, compute: Callable[[], Any]) -> Any:
        def build(temporary: Path) -> None:
            temporary.write_text(json.dumps(compute(), allow_nan=False, separators=(",", ":")))

        return json.loads(self._product(name, build).read_text())

    def _open_fits(self) -> fits.HDUList:
        try:
            return fits.open(self.fits_path, memmap=False)
        except (OSError, ValueError) as error:
            raise OperationError(f"Frame {self.label} could not be read as FITS: {error}") from error

    def _science(self, hdul: fits.HDUList):
        try:
            return science_hdu(hdul)
        except ValueError as error:
            raise OperationError(f"Frame {self.label} has no 2-D image to analyse.") from error

    # --- header --------------------------------------------------------------------------------
    @cached_property
    def header_info(self) -> dict[str, Any]:
        """Header text and JSON, shape (rows, columns), WCS summary and CAT presence; no pixels read."""

        def compute() -> dict[str, Any]:
            with self._open_fits() as hdul:
                hdu = self._science(hdul)
                header = hdu.header
                shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
                names = {extension.name for extension in hdul}
                return {
                    "header_text": header.tostring(),
                    "header": header_json(header),
                    "shape": list(shape),
                    "wcs": wcs_summary(header, shape),
                    "has_catalog": "CAT" in names,
                }

        return self._json_product("header.json", compute)

    @property
    def shape(self) -> tuple[int, int]:
        rows, columns = self.header_info["shape"]
        return int(rows), int(columns)

    @cached_property
    def header(self) -> fits.Header:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fits.Header.fromstring(self.header_info["header_text"])

    @cached_property
    def wcs(self) -> WCS | None:
        return celestial_wcs(self.header) if self.header_info["wcs"] is not None else None

    def pixel_scale_arcsec(self) -> float | None:
        """``PIXSCALE`` from the header, when positive."""
        value = self.header_info["header"].get("PIXSCALE")
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    # --- pixels --------------------------------------------------------------------------------
    @cached_property
    def pixels(self) -> np.ndarray:
        """The SCI image as a read-only float32 memory map (row 0 = bottom of the sky image)."""

        def build(temporary: Path) -> None:
            with warnings.catch_warnings(), open(temporary, "wb") as handle:
                warnings.simplefilter("ignore")  # astropy's header-fixing chatter; errors come as OperationError
                write_image_npy(self.fits_path, handle, self.label)

        return np.load(self._product("pixels.npy", build), mmap_mode="r", allow_pickle=False)

    @cached_property
    def stats(self) -> dict[str, Any]:
        """``zscale`` [low, high] display limits and ``maximum``/``max_magnitude`` of the finite pixels."""

        def compute() -> dict[str, Any]:
            pixels = self.pixels
            statistics = imaging.FrameStatistics(pixels.shape)
            for first in range(0, pixels.shape[0], 512):
                statistics.add(first, pixels[first:first + 512])
            return statistics.result()

        return self._json_product("stats.json", compute)

    # --- answers ---------------------------------------------------------------------------------
    def raw_data_json(self, max_size: int) -> bytes:
        """The encoded ``raw-data`` answer: area-averaged ``max_size`` square image, top row first."""

        def build(temporary: Path) -> None:
            stats, image = self._stats_and_average((max_size, max_size))
            image = image[::-1]
            zscale = (float(stats["zscale"][0]), float(stats["zscale"][1]))
            counts, centres = imaging.histogram(
                image, bins=HISTOGRAM_BINS, limits=imaging.histogram_limits(image, zscale)
            )
            maximum = stats["maximum"]
            decimals = imaging.display_decimals(stats["max_magnitude"])
            answer = {
                # The same values as imaging.finite_list, encoded straight from the array (NaN -> null).
                "data": np.round(np.asarray(image, dtype=np.float64).ravel(), decimals),
                "histogram": counts,
                "bins": centres,
                "zmin": zscale[0],
                "zmax": zscale[1],
                "bitdepth": imaging.bitdepth_for(maximum if maximum is not None else math.nan),
            }
            temporary.write_bytes(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY))

        return self._product(f"raw-{max_size}.v{RAW_DATA_FORMAT}.json", build).read_bytes()

    def _stats_and_average(self, shape: tuple[int, int]) -> tuple[dict[str, Any], np.ndarray]:
        """The frame's stats and its area average onto ``shape``.

        When the pixels are not cached yet, both come from one pass over the decoding frame (the
        same values as from the pixels): a first look at a frame then costs a decode, not a decode
        plus writing and re-reading a full-resolution copy. The pixels product is built only when
        an action needs full resolution.
        """
        if "pixels" in self.__dict__ or self.cache.lookup(f"{self.key}.pixels.npy") is not None:
            return self.stats, area_average(self.pixels, shape)
        with warnings.catch_warnings(), FrameStack([self.fits_path], [self.label]) as stack:
            warnings.simplefilter("ignore")  # astropy's header-fixing chatter; errors come as OperationError
            averager = AreaAverager(stack.shape, shape)
            statistics = imaging.FrameStatistics(stack.shape)
            multiple = averager.row_multiple  # bands start on whole output rows
            rows = max(multiple, FIRST_LOOK_BAND_BYTES // (stack.shape[1] * 4) // multiple * multiple)
            for first, _, band in stack.bands(rows):
                averager.add(first, band[0])
                statistics.add(first, band[0])
        stats = self._json_product("stats.json", statistics.result)
        self.__dict__["stats"] = stats
        return stats, averager.result()

    def thumbnail(self, width: int, height: int) -> Path:
        """A JPEG of the whole frame fitting in ``width`` x ``height`` (aspect kept), zscale-stretched."""
        rows, columns = self.shape
        scale = min(width / columns, height / rows)
        shape = (max(1, round(rows * scale)), max(1, round(columns * scale)))

        def build(temporary: Path) -> None:
            low, high = self.stats["zscale"]
            write_jpeg(area_average(self.pixels, shape), temporary, limits=(float(low), float(high)))

        return self._product(f"thumb-{width}x{height}.jpg", build)

    @cached_property
    def catalog(self) -> list[dict[str, Any]]:
        """Up to ``MAX_SOURCES`` sources, brightest first, in 1-based FITS pixels."""

        def compute() -> list[dict[str, Any]]:
            if self.header_info["has_catalog"]:
                with self._open_fits() as hdul:
                    table = hdul["CAT"].data
                    if table is not None and len(table) > 0:
                        try:
                            return catalog_kernels.sources_from_table(np.asarray(table), self.wcs)
                        except ValueError:
                            pass  # a CAT without usable columns: detect instead
            return catalog_kernels.detect_sources(self.pixels, self.wcs, fwhm_pixels=self._fwhm_pixels())

        return self._json_product("catalog.json", compute)

    def _fwhm_pixels(self) -> float:
        """Seeing in pixels from ``L1FWHM`` (arcsec) and ``PIXSCALE``, else the detection default."""
        seeing = self.header_info["header"].get("L1FWHM")
        scale = self.pixel_scale_arcsec()
        if isinstance(seeing, (int, float)) and seeing > 0 and scale:
            return float(min(max(seeing / scale, 1.5), 20.0))
        return catalog_kernels.DEFAULT_FWHM_PIXELS
