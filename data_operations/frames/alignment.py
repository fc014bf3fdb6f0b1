"""Aligning frames on the sky: each frame reprojected onto one celestial grid, then read in row bands.

Reprojection needs a whole input frame at once (an output pixel may come from anywhere in it), so
frames are reprojected one at a time: the frame is read, and its reprojection is written into a
float32 file under the operation's temp dir through a memmap, a block of output rows at a time
(``reproject_interp`` on a row slice of the target WCS), then the map is dropped. Combining reads
row bands of those files with positional reads into one reused buffer rather than through memory
maps: pages read through a map count as resident memory until unmapped, so mapping 50 aligned
4096x4096 frames would let residency climb towards their 3 GiB, while plain reads keep it at the
band size. Peak memory is one input frame plus the reprojection's per-block coordinate arrays
(sized from the memory budget), and disk use is one float32 grid per frame.

``AlignedStack`` offers the same reading interface as ``FrameStack`` (``shape``, ``count``,
``frames``, ``headers``, ``cropped``, ``bands``), so an operation combines either the same way.
"""
from __future__ import annotations

import math
import re
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.frames.gnomonic import GnomonicProjection
from data_operations.frames.reader import FrameInfo, FrameStack
from data_operations.frames.single import read_image

if TYPE_CHECKING:  # astropy.wcs pulls in astropy.coordinates (~0.15 s): imported where a WCS is made
    from astropy.wcs import WCS

FLOAT32_BYTES = 4
NO_OVERLAP_MESSAGE = "The frames do not all overlap on the sky; there is no common region."
# Bytes per output pixel that reproject_interp holds while reprojecting one block of rows:
# output and input pixel coordinates and the world coordinates between them, in float64.
REPROJECT_BYTES_PER_PIXEL = 160
MIN_REPROJECT_ROWS = 16
# Larger blocks are no faster, and their freed coordinate arrays linger in the heap as resident memory.
MAX_REPROJECT_BLOCK_BYTES = 32 * 1024 * 1024
# An optimal grid larger than this many times the largest frame means frames of different fields.
MAX_GRID_AREA_FACTOR = 4
# Pointing differences above this many pixels make unaligned combining worth a warning.
POINTING_TOLERANCE_PIXELS = 1.0
# A frame whose pixels all land within this of the same grid pixels is copied, not resampled.
ON_GRID_TOLERANCE_PIXELS = 1e-3

ProgressCallback = Callable[[float, str], None]

_WCS_KEYWORD = re.compile(
    r"^(WCSAXES|WCSNAME|RADESYS|RADECSYS|EQUINOX|EPOCH|LONPOLE|LATPOLE|MJDREF|DATEREF"
    r"|CTYPE\d|CRPIX\d|CRVAL\d|CDELT\d|CUNIT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|PS\d_\d+"
    r"|(A|B|AP|BP)_ORDER|(A|B|AP|BP)_\d+_\d+|(A|B)_DMAX)$"
)


# --- WCS of a frame -------------------------------------------------------------------------------
def celestial_wcs(header: fits.Header) -> WCS | None:
    """The frame's 2-D celestial WCS, or None when it has none that maps its centre onto the sky."""
    from astropy.wcs import WCS, FITSFixedWarning

    # Process-wide, not catch_warnings(): that swaps the global filter list and is not safe while
    # other threads (the pointing check runs on one) do the same. Header fixes are not news here.
    warnings.filterwarnings("ignore", category=FITSFixedWarning)
    try:
        wcs = WCS(header).celestial
        if wcs.naxis != 2 or not wcs.has_celestial:
            return None
        ny, nx = int(header.get("NAXIS2", 1)), int(header.get("NAXIS1", 1))
        world = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
        scale = abs(np.linalg.det(wcs.pixel_scale_matrix))
    except Exception:  # noqa: BLE001 - astropy reports broken WCS headers with many error types
        return None
    if not (np.all(np.isfinite(world)) and np.isfinite(scale) and scale > 0):
        return None
    return wcs


def pixel_scale_degrees(wcs: WCS) -> float:
    """Mean size of one pixel on the sky, in degrees."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    return float(np.mean(proj_plane_pixel_scales(wcs)))


def replace_wcs(header: fits.Header, wcs: WCS) -> fits.Header:
    """A copy of ``header`` whose WCS keywords (including SIP distortion) are those of ``wcs``."""
    replaced = fits.Header([card for card in header.cards if not _WCS_KEYWORD.match(card.keyword)])
    replaced.update(wcs.to_header(relax=True))
    return replaced


def pointing_offsets(frames: Sequence[FrameInfo], shape: tuple[int, int]) -> dict[str, float]:
    """How far (in the first frame's pixels) each frame's view of the common region's centre lies.

    For frames combined pixel by pixel, the pixel at the centre of the common region should show
    the same sky in every frame; the result maps each frame that has a WCS (after the first) to the
    distance between its sky position and the first frame's. Empty when the first has no WCS.
    """
    centre = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
    reference = _sky_and_scale(frames[0].header, centre)
    if reference is None:
        return {}
    (ra0, dec0), scale = reference
    offsets: dict[str, float] = {}
    for frame in frames[1:]:
        position = _sky_and_scale(frame.header, centre)
        if position is None:
            continue
        (ra, dec), _ = position
        haversine = math.sin((dec - dec0) / 2) ** 2 + math.cos(dec0) * math.cos(dec) * math.sin((ra - ra0) / 2) ** 2
        separation = 2 * math.asin(min(1.0, math.sqrt(haversine)))  # precise for small angles, unlike acos
        offsets[frame.display_name] = separation / scale
    return offsets


def _sky_and_scale(header: fits.Header, pixel: tuple[float, float]) -> tuple[tuple[float, float], float] | None:
    """((ra, dec) of the 0-based ``pixel``, pixel scale), all in radians; None without a usable WCS.

    Plain TAN headers are converted from their keywords, which spares importing astropy's WCS.
    """
    projection = GnomonicProjection.from_header(header)
    if projection is not None:
        ra, dec = projection.sky(*pixel)
        scale = projection.pixel_scale_degrees
    else:
        wcs = celestial_wcs(header)
        if wcs is None:
            return None
        ra, dec = (float(value) for value in wcs.pixel_to_world_values(*pixel))
        scale = pixel_scale_degrees(wcs)
    return (math.radians(ra), math.radians(dec)), math.radians(scale)


def unaligned_pointing_warning(frames: Sequence[FrameInfo], shape: tuple[int, int], hint: str) -> str | None:
    """A sentence for the user when frames combined pixel by pixel point at different sky positions."""
    offsets = pointing_offsets(frames, shape)
    off_target = {name: offset for name, offset in offsets.items() if offset > POINTING_TOLERANCE_PIXELS}
    if not off_target:
        return None
    names = ", ".join(off_target)
    return (f"The frames point at different sky positions (up to {max(off_target.values()):.1f} pixels "
            f"from the first frame: {names}) but were combined pixel by pixel without alignment. {hint}")


# --- the target grid ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """A celestial pixel grid: its WCS and (ny, nx)."""

    wcs: WCS
    shape: tuple[int, int]


def _require_wcs(frame: FrameInfo) -> WCS:
    wcs = celestial_wcs(frame.header)
    if wcs is None:
        raise OperationError(f"Frame {frame.display_name} has no usable celestial WCS, so it cannot be "
                             "aligned on the sky; combine without alignment or leave it out.")
    return wcs


def optimal_grid(frames: Sequence[FrameInfo]) -> Grid:
    """One TAN grid covering every frame, at the finest input resolution (north up)."""
    inputs = [(frame.shape, _require_wcs(frame)) for frame in frames]
    from reproject.mosaicking import find_optimal_celestial_wcs  # ~0.4 s of imports (dask): only when aligning

    wcs, shape = find_optimal_celestial_wcs(inputs)
    largest = max(frame.shape[0] * frame.shape[1] for frame in frames)
    if shape[0] * shape[1] > MAX_GRID_AREA_FACTOR * largest:
        raise OperationError("The frames cover too wide an area of sky to stack together; are they of "
                             "different fields?")
    return Grid(wcs=wcs, shape=(int(shape[0]), int(shape[1])))


# --- reading aligned frames -----------------------------------------------------------------------
class AlignedStack:
    """Frames reprojected onto one grid, read in row bands like ``FrameStack``.

    Parameters
    ----------
    paths, names : the frames and the names used in messages.
    workdir : a private directory for the reprojected frames (removed by ``close``).
    memory_budget_bytes : bounds the reprojection's working memory.
    grid : the target grid; default the first frame's own grid (``align: wcs``).
    crop_to_common : keep only the bounding box of the region every frame covers (Stacking).
    unaligned_fallback : place frames without a usable WCS by pixel position instead of failing
        (Color Image); their names are listed in ``unaligned``.
    progress : called with (fraction of the alignment done, message).
    """

    def __init__(self, paths: Sequence[Path | str], names: Sequence[str] | None = None, *, workdir: Path,
                 memory_budget_bytes: int, grid: Grid | None = None, crop_to_common: bool = False,
                 unaligned_fallback: bool = False, progress: ProgressCallback | None = None):
        with FrameStack(paths, names) as headers_only:
            self.frames: list[FrameInfo] = list(headers_only.frames)
        self.unaligned: list[str] = []
        self._workdir = Path(workdir)
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._paths: list[Path] = []
        try:
            if not unaligned_fallback:  # refuse a frame without WCS before any reprojection work
                for frame in self.frames:
                    _require_wcs(frame)
            self.grid = grid if grid is not None else Grid(_require_wcs(self.frames[0]), self.frames[0].shape)
            coverage = [self._align(index, frame, memory_budget_bytes, progress)
                        for index, frame in enumerate(self.frames)]
            self._set_region(coverage, crop_to_common)
        except BaseException:
            self.close()
            raise

    # --- building ---------------------------------------------------------------------------
    def _align(self, index: int, frame: FrameInfo, budget: int,
               progress: ProgressCallback | None) -> tuple[int, int, int, int] | None:
        """Write frame ``index`` onto the grid; returns the (y0, y1, x0, x1) box it covers, if any."""
        total = len(self.frames)
        if progress:
            progress(index / total, f"Aligning frame {index + 1} of {total} ({frame.display_name}) on the sky.")
        wcs = celestial_wcs(frame.header)
        path = self._workdir / f"aligned-{index:04d}.f32"
        self._paths.append(path)
        image, _ = read_image(frame.path, frame.display_name)
        target = np.memmap(path, dtype=np.float32, mode="w+", shape=self.grid.shape)
        try:
            if wcs is None:
                self.unaligned.append(frame.display_name)
                _place_by_pixel(image, target)
            elif _maps_onto_grid(wcs, frame.shape, self.grid):  # already on the grid: copy, no resampling
                _place_by_pixel(image, target)
            else:
                # The map's written pages stay resident until it is dropped: count them too.
                self._reproject(image, wcs, target, budget - image.nbytes - target.nbytes)
            target.flush()
            return _covered_box(target)
        finally:
            del target  # unmap, so the written pages leave this process's resident memory

    def _reproject(self, image: np.ndarray, wcs: WCS, target: np.ndarray, budget: int) -> None:
        from reproject import reproject_interp

        grid_ny, grid_nx = self.grid.shape
        block_bytes = min(budget, MAX_REPROJECT_BLOCK_BYTES)
        rows = max(MIN_REPROJECT_ROWS, block_bytes // max(1, grid_nx * REPROJECT_BYTES_PER_PIXEL))
        for y0 in range(0, grid_ny, rows):
            y1 = min(grid_ny, y0 + rows)
            block_wcs = self.grid.wcs.slice((slice(y0, y1), slice(None)))
            # No round-trip check: it doubles the cost, and only guards projections that fold over
            # (all-sky maps), not frames of one field; wcslib already flags points it cannot project.
            reproject_interp((image, wcs), block_wcs, shape_out=(y1 - y0, grid_nx), order="bilinear",
                             output_array=target[y0:y1], return_footprint=False, roundtrip_coords=False)

    def _set_region(self, coverage: list[tuple[int, int, int, int] | None], crop_to_common: bool) -> None:
        grid_ny, grid_nx = self.grid.shape
        self._origin = (0, 0)
        self.shape: tuple[int, int] = (grid_ny, grid_nx)
        self.wcs = self.grid.wcs
        if any(box is None for box in coverage):  # a frame of another field: nothing to combine it with
            raise OperationError(NO_OVERLAP_MESSAGE)
        if not crop_to_common:
            return
        y0 = max(box[0] for box in coverage)
        y1 = min(box[1] for box in coverage)
        x0 = max(box[2] for box in coverage)
        x1 = min(box[3] for box in coverage)
        if y1 <= y0 or x1 <= x0:
            raise OperationError(NO_OVERLAP_MESSAGE)
        self._origin = (y0, x0)
        self.shape = (y1 - y0, x1 - x0)
        self.wcs = self.grid.wcs.slice((slice(y0, y1), slice(x0, x1)))

    # --- the FrameStack interface -----------------------------------------------------------
    def __enter__(self) -> AlignedStack:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for path in self._paths:
            path.unlink(missing_ok=True)
        self._paths = []
        shutil.rmtree(self._workdir, ignore_errors=True)

    @property
    def count(self) -> int:
        return len(self.frames)

    @property
    def cropped(self) -> bool:
        """Aligned frames are never cut from the origin (cropping to the overlap is by design)."""
        return False

    @property
    def headers(self) -> list[fits.Header]:
        return [frame.header for frame in self.frames]

    def bands(self, rows_per_band: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(y0, y1, band)`` (float32, (N, rows, nx)) over the aligned region; buffer reused."""
        ny, nx = self.shape
        grid_nx = self.grid.shape[1]
        origin_y, origin_x = self._origin
        rows_per_band = max(1, min(int(rows_per_band), ny))
        buffer = np.empty(self.count * rows_per_band * nx, dtype=np.float32)
        full_rows = None if nx == grid_nx else np.empty((rows_per_band, grid_nx), dtype=np.float32)
        handles = [open(path, "rb") for path in self._paths]  # closed in finally
        try:
            for y0 in range(0, ny, rows_per_band):
                y1 = min(ny, y0 + rows_per_band)
                band = buffer[: self.count * (y1 - y0) * nx].reshape(self.count, y1 - y0, nx)
                for index, handle in enumerate(handles):
                    handle.seek((origin_y + y0) * grid_nx * FLOAT32_BYTES)
                    if full_rows is None:
                        _read_exactly(handle, band[index])
                    else:
                        _read_exactly(handle, full_rows[: y1 - y0])
                        band[index] = full_rows[: y1 - y0, origin_x:origin_x + nx]
                yield y0, y1, band
        finally:
            for handle in handles:
                handle.close()


def _read_exactly(handle, target: np.ndarray) -> None:
    view = memoryview(target).cast("B")
    if handle.readinto(view) != len(view):
        raise OperationError("An aligned frame in the temporary directory was cut short; is the disk full?")


def _maps_onto_grid(wcs: WCS, shape: tuple[int, int], grid: Grid) -> bool:
    """True when every pixel of a frame of ``shape`` lands on the same pixel of ``grid`` (within
    ``ON_GRID_TOLERANCE_PIXELS``), as for the reference frame itself or channels taken at one pointing.

    Checked on a 5x5 lattice across the frame, so a rotation, scale or distortion difference shows.
    Such a frame is copied instead of resampled: the same pixels, minus the cost and the slight
    smoothing of interpolating at whole-pixel positions.
    """
    if tuple(shape) != tuple(grid.shape):
        return False
    ny, nx = shape
    ys, xs = np.meshgrid(np.linspace(0, ny - 1, 5), np.linspace(0, nx - 1, 5), indexing="ij")
    try:
        world = wcs.pixel_to_world_values(xs.ravel(), ys.ravel())
        x, y = grid.wcs.world_to_pixel_values(*world)
    except Exception:  # noqa: BLE001 - astropy reports failed projections with many error types
        return False
    offsets = np.hypot(np.asarray(x) - xs.ravel(), np.asarray(y) - ys.ravel())
    return bool(np.all(np.isfinite(offsets)) and offsets.max() <= ON_GRID_TOLERANCE_PIXELS)


def _place_by_pixel(image: np.ndarray, target: np.ndarray) -> None:
    """Copy ``image`` onto the grid from the origin, NaN where it does not reach."""
    target[...] = np.nan
    rows = min(image.shape[0], target.shape[0])
    cols = min(image.shape[1], target.shape[1])
    target[:rows, :cols] = image[:rows, :cols]


def _covered_box(target: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the finite pixels of ``target``, read in blocks; None if there are none."""
    ny, nx = target.shape
    rows_with_data = np.zeros(ny, dtype=bool)
    cols_with_data = np.zeros(nx, dtype=bool)
    step = max(1, (16 << 20) // max(1, nx * FLOAT32_BYTES))
    for y0 in range(0, ny, step):
        finite = np.isfinite(target[y0:y0 + step])
        rows_with_data[y0:y0 + step] = finite.any(axis=1)
        cols_with_data |= finite.any(axis=0)
    if not rows_with_data.any():
        return None
    rows = np.flatnonzero(rows_with_data)
    cols = np.flatnonzero(cols_with_data)
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
