"""Aligning frames on the sky: each frame resampled onto one celestial grid, a band of rows at a time.

Where every grid pixel lands in a frame comes from the two WCS (exact at nodes a few dozen pixels
apart, interpolated in between: ``frames/resample.py``). A band of aligned rows then needs only
the frame rows it maps onto, so each frame keeps a sliding window of decoded rows (decoded once
each, through ``FrameStack.read_rows``) and every band is resampled from it in C, on the decoder
threads, while the previous band is combined: no temporary files, no whole frames in memory. The
pixels equal ``reproject_interp``'s bilinear reprojection (same conventions; the mapping is within
~1e-5 pixels of the WCS on distorted frames).

A frame whose pixels already sit on the grid (the reference frame, channels taken at one
pointing) is read as it is, and so is one placed by pixel position because it has no WCS. Only a
frame so rotated against the grid that its windows would outgrow the memory budget (a band of
grid rows crossing most of its rows) is resampled whole first, into a float32 file that bands
are then read from.

``AlignedStack`` offers the same reading interface as ``FrameStack`` (``shape``, ``count``,
``frames``, ``headers``, ``cropped``, ``bands``), so an operation combines either the same way.
"""
from __future__ import annotations

import math
import re
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits

from data_operations.errors import OperationError
from data_operations.frames.gnomonic import GnomonicProjection
from data_operations.frames.reader import (
    BAND_COPIES,
    BANDS_AHEAD,
    FrameInfo,
    FrameStack,
    band_views,
    bands_ahead,
    bands_in_turn,
    default_decoder_workers,
)
from data_operations.frames.resample import PixelMapping, RowCoverage, rows_needed
from data_operations.frames.single import read_image
from data_operations.kernels.threads import core_count

if TYPE_CHECKING:  # astropy.wcs pulls in astropy.coordinates (~0.15 s): imported where a WCS is made
    from astropy.wcs import WCS

FLOAT32_BYTES = 4
NO_OVERLAP_MESSAGE = "The frames do not all overlap on the sky; there is no common region."
# Rows resampled per step when a frame is resampled whole into a file.
MATERIALISE_BLOCK_BYTES = 8 * 1024 * 1024
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
    """One TAN grid covering every frame, at the finest input resolution (north up).

    The grid ``reproject.mosaicking.find_optimal_celestial_wcs`` chooses (its defaults: the first
    frame's celestial frame, centred on the mean direction of the frames' reference points, the
    outer pixel corners all inside), computed here with astropy alone: importing reproject's
    mosaicking pulls in dask, ~0.4 s on an idle machine.
    """
    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import (
        celestial_frame_to_wcs,
        proj_plane_pixel_scales,
        skycoord_to_pixel,
        wcs_to_celestial_frame,
    )

    inputs = [(frame.shape, _require_wcs(frame)) for frame in frames]
    sky_frame = wcs_to_celestial_frame(inputs[0][1])
    corners, references, resolution = [], [], math.inf
    for (ny, nx), wcs in inputs:
        corners.append(wcs.pixel_to_world([-0.5, nx - 0.5, nx - 0.5, -0.5],
                                          [-0.5, -0.5, ny - 0.5, ny - 0.5]).transform_to(sky_frame).frame)
        references.append(wcs.pixel_to_world(*(wcs.wcs.crpix - 1.0)).transform_to(sky_frame).frame)
        resolution = min(resolution, *np.abs(proj_plane_pixel_scales(wcs)))  # degrees: CUNIT is deg
    reference = SkyCoord(SkyCoord(references).cartesian.mean(), frame=sky_frame).spherical
    wcs = celestial_frame_to_wcs(sky_frame, projection="TAN")
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = (reference.lon.to_value("deg"), reference.lat.to_value("deg"))
    wcs.wcs.cdelt = (-resolution, resolution)
    wcs.wcs.crpix = (1.0, 1.0)
    x, y = skycoord_to_pixel(SkyCoord(corners), wcs, origin=1)
    wcs.wcs.crpix = ((1 - x.min()) + 0.5, (1 - y.min()) + 0.5)
    shape = (int(round(y.max() - y.min())), int(round(x.max() - x.min())))
    largest = max(frame.shape[0] * frame.shape[1] for frame in frames)
    if shape[0] * shape[1] > MAX_GRID_AREA_FACTOR * largest:
        raise OperationError("The frames cover too wide an area of sky to stack together; are they of "
                             "different fields?")
    return Grid(wcs=wcs, shape=(int(shape[0]), int(shape[1])))


# --- reading aligned frames -----------------------------------------------------------------------
@dataclass
class _Placement:
    """How one frame reaches the grid, and the state of its sliding window while bands are read."""

    mapping: PixelMapping | None  # None: read as it is, by pixel position from the grid's origin
    coverage: RowCoverage | None
    box: tuple[int, int, int, int] | None  # (y0, y1, x0, x1) of the grid it covers
    file: Path | None = None  # resampled whole into this float32 file (region rows x region cols)
    window: np.ndarray | None = None  # decoded frame rows window_rows[0]:window_rows[1]
    window_rows: tuple[int, int] = (0, 0)
    finite_seen: bool = False
    bands: list[tuple[int, int]] = field(default_factory=list)  # frame rows each band needs


class AlignedStack:
    """Frames resampled onto one grid, read in row bands like ``FrameStack``.

    Parameters
    ----------
    paths, names : the frames and the names used in messages.
    workdir : a private directory for frames that must be resampled whole (removed by ``close``).
    memory_budget_bytes : bounds the band buffers and the frames' row windows together.
    grid : the target grid; default the first frame's own grid (``align: wcs``).
    crop_to_common : keep only the bounding box of the region every frame covers (Stacking).
    unaligned_fallback : place frames without a usable WCS by pixel position instead of failing
        (Color Image); their names are listed in ``unaligned``.
    progress : called with (fraction of the alignment done, message).
    """

    def __init__(self, paths: Sequence[Path | str], names: Sequence[str] | None = None, *, workdir: Path,
                 memory_budget_bytes: int, grid: Grid | None = None, crop_to_common: bool = False,
                 unaligned_fallback: bool = False, progress: ProgressCallback | None = None):
        self._stack = FrameStack(paths, names)
        self.frames: list[FrameInfo] = list(self._stack.frames)
        self.unaligned: list[str] = []
        self._workdir = Path(workdir)
        self._budget = int(memory_budget_bytes)
        self._placements: list[_Placement] = []
        try:
            wcs_list = [celestial_wcs(frame.header) for frame in self.frames]
            if not unaligned_fallback:  # refuse a frame without WCS before any work
                for frame, wcs in zip(self.frames, wcs_list, strict=True):
                    if wcs is None:
                        _require_wcs(frame)  # raises, naming the frame
            if grid is None:
                grid = Grid(wcs_list[0] if wcs_list[0] is not None else _require_wcs(self.frames[0]),
                            self.frames[0].shape)
            self.grid = grid
            self._placements = self._place_all(wcs_list, progress)
            self._set_region([placement.box for placement in self._placements], crop_to_common)
        except BaseException:
            self.close()
            raise

    # --- building ---------------------------------------------------------------------------
    def _place_all(self, wcs_list: list[WCS | None], progress: ProgressCallback | None) -> list[_Placement]:
        """Every frame's placement, on one thread per core (the coverage scan runs without the GIL)."""
        total = len(self.frames)
        self.unaligned = [frame.display_name for frame, wcs in zip(self.frames, wcs_list, strict=True) if wcs is None]
        threads = min(core_count(), total)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="align-map") as pool:
            futures = [pool.submit(self._place, frame, wcs) for frame, wcs in zip(self.frames, wcs_list, strict=True)]
            placements = []
            for index, (frame, future) in enumerate(zip(self.frames, futures, strict=True)):
                if progress:
                    progress(index / total, f"Aligning frame {index + 1} of {total} ({frame.display_name}) on the sky.")
                placements.append(future.result())
        return placements

    def _place(self, frame: FrameInfo, wcs: WCS | None) -> _Placement:
        """How ``frame`` maps onto the grid and which part of the grid it covers."""
        if wcs is None or _maps_onto_grid(wcs, frame.shape, self.grid):
            rows = min(frame.shape[0], self.grid.shape[0])
            cols = min(frame.shape[1], self.grid.shape[1])
            return _Placement(mapping=None, coverage=None, box=(0, rows, 0, cols))
        mapping = PixelMapping.between(self.grid.wcs, self.grid.shape, wcs, frame.shape)
        coverage = mapping.coverage()
        return _Placement(mapping=mapping, coverage=coverage, box=coverage.box())

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
        self._stack.close()
        for placement in self._placements:
            placement.window = None
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

    def bands(self, rows_per_band: int, workers: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(y0, y1, band)`` (float32, (N, rows, nx)) over the aligned region; buffers reused.

        Each yielded ``band`` may be overwritten once the caller advances. ``workers`` threads
        (default: one per core for large stacks, 0 = all in this thread) decode and resample the
        next bands while the caller combines this one.
        """
        ny, nx = self.shape
        rows_per_band = max(1, min(int(rows_per_band), ny))
        starts = list(range(0, ny, rows_per_band))
        self._plan_windows(starts, rows_per_band)
        if workers is None:
            workers = default_decoder_workers(self.count * ny * nx)
        band_view = band_views(self.count, self.shape, starts, rows_per_band, BANDS_AHEAD + 1 if workers else 1)
        if not workers:
            def fill(position: int, band: np.ndarray) -> None:
                for index in range(self.count):
                    self._fill(index, position, starts[position], band[index])

            yield from bands_in_turn(starts, band_view, fill)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="align") as pool:
                previous: list[Future | None] = [None] * self.count

                def submit(position: int) -> list[Future]:
                    band = band_view(position)
                    futures = []
                    for index in range(self.count):
                        # A frame's window moves band after band: each step waits for the one before.
                        # Tasks leave the pool's queue in order, so the awaited one is already running.
                        futures.append(pool.submit(self._fill_after, previous[index], index, position,
                                                   starts[position], band[index]))
                        previous[index] = futures[-1]
                    return futures

                yield from bands_ahead(starts, submit, band_view)
        for index, placement in enumerate(self._placements):
            placement.window = None
            if not placement.finite_seen:
                raise OperationError(f"Frame {self.frames[index].display_name} has no finite pixels "
                                     "(every value is NaN or infinite).")

    # --- filling bands ----------------------------------------------------------------------
    def _plan_windows(self, starts: list[int], rows_per_band: int) -> None:
        """The frame rows each band needs; frames whose windows would not fit are resampled whole."""
        ny, nx = self.shape
        origin_y = self._origin[0]
        windowed: list[tuple[int, int]] = []  # (bytes of the largest window, frame index)
        for index, placement in enumerate(self._placements):
            if placement.mapping is None or placement.file is not None:
                continue
            frame_ny, frame_nx = self.frames[index].shape
            placement.bands = [rows_needed(placement.coverage, frame_ny, origin_y + y0,
                                           origin_y + min(ny, y0 + rows_per_band)) for y0 in starts]
            largest = max(hi - lo for lo, hi in placement.bands)
            windowed.append((largest * frame_nx * FLOAT32_BYTES, index))
        band_bytes = self.count * rows_per_band * nx * FLOAT32_BYTES
        window_budget = max(0, self._budget - BAND_COPIES * band_bytes) // 2
        windowed.sort()
        while windowed and sum(size for size, _ in windowed) > window_budget:
            _, index = windowed.pop()  # the frame with the largest window
            self._resample_whole(index)

    def _resample_whole(self, index: int) -> None:
        """Resample frame ``index`` over the whole region into a float32 file read by bands later."""
        placement = self._placements[index]
        frame = self.frames[index]
        image, _ = read_image(frame.path, frame.display_name)
        placement.finite_seen = True  # read_image refuses a frame without finite pixels
        ny, nx = self.shape
        origin_y, origin_x = self._origin
        self._workdir.mkdir(parents=True, exist_ok=True)
        path = self._workdir / f"aligned-{index:04d}.f32"
        rows = max(1, MATERIALISE_BLOCK_BYTES // (nx * FLOAT32_BYTES))
        block = np.empty((rows, nx), dtype=np.float32)
        with open(path, "wb") as handle:
            for y0 in range(0, ny, rows):
                y1 = min(ny, y0 + rows)
                placement.mapping.resample(image, 0, origin_y + y0, origin_x, block[: y1 - y0])
                handle.write(memoryview(block[: y1 - y0]).cast("B"))
        placement.file = path
        placement.bands = []

    def _fill_after(self, before: Future | None, index: int, position: int, y0: int, out: np.ndarray) -> None:
        if before is not None:
            before.result()
        self._fill(index, position, y0, out)

    def _fill(self, index: int, position: int, y0: int, out: np.ndarray) -> None:
        """Region rows ``y0:y0 + len(out)`` of frame ``index`` on the grid, into ``out``."""
        placement = self._placements[index]
        if placement.file is not None:
            _read_region_rows(placement.file, y0, out, self.frames[index].display_name)
        elif placement.mapping is None:
            self._fill_by_pixel(index, y0, out)
        else:
            lo, hi = placement.bands[position]
            self._move_window(index, lo, hi)
            placement.mapping.resample(placement.window[: hi - lo], lo, self._origin[0] + y0, self._origin[1], out)

    def _fill_by_pixel(self, index: int, y0: int, out: np.ndarray) -> None:
        """The frame's own pixels at the same positions, NaN where it does not reach."""
        placement = self._placements[index]
        frame_ny, frame_nx = self.frames[index].shape
        origin_y, origin_x = self._origin
        rows, cols = out.shape
        first, last = origin_y + y0, min(frame_ny, origin_y + y0 + rows)
        width = min(frame_nx, origin_x + cols)
        if last <= first or width <= origin_x:
            out[...] = np.nan
            return
        if origin_x == 0 and width == cols:  # the usual case: decode straight into the band
            target = out[: last - first]
            self._stack.read_rows(index, first, last, target)
        else:
            decoded = np.empty((last - first, width), dtype=np.float32)
            self._stack.read_rows(index, first, last, decoded)
            target = decoded[:, origin_x:]
            out[: last - first, : width - origin_x] = target
            out[: last - first, width - origin_x:] = np.nan
        out[last - first:] = np.nan
        if not placement.finite_seen:
            placement.finite_seen = bool(np.isfinite(target).any())

    def _move_window(self, index: int, lo: int, hi: int) -> None:
        """Make the frame's window hold rows lo:hi, keeping the rows it already has."""
        placement = self._placements[index]
        if placement.window is None:
            largest = max(band_hi - band_lo for band_lo, band_hi in placement.bands)
            placement.window = np.empty((max(1, largest), self.frames[index].shape[1]), dtype=np.float32)
            placement.window_rows = (0, 0)
        window = placement.window
        old_lo, old_hi = placement.window_rows
        keep_lo, keep_hi = max(lo, old_lo), min(hi, old_hi)
        if keep_lo < keep_hi:
            window[keep_lo - lo:keep_hi - lo] = window[keep_lo - old_lo:keep_hi - old_lo]  # numpy handles overlap
            missing = [(lo, keep_lo), (keep_hi, hi)]
        else:
            missing = [(lo, hi)]
        for first, last in missing:
            if first < last:
                decoded = window[first - lo:last - lo]
                self._stack.read_rows(index, first, last, decoded)
                if not placement.finite_seen:
                    placement.finite_seen = bool(np.isfinite(decoded).any())
        placement.window_rows = (lo, hi)


def _read_region_rows(path: Path, y0: int, out: np.ndarray, name: str) -> None:
    """Rows ``y0:y0 + len(out)`` of a resampled frame file (as wide as ``out``)."""
    view = memoryview(out).cast("B")
    with open(path, "rb", buffering=0) as handle:
        handle.seek(y0 * out.shape[1] * FLOAT32_BYTES)
        if handle.readinto(view) != len(view):
            raise OperationError(f"The aligned copy of frame {name} in the temporary directory was cut short; "
                                 "is the disk full?")


def _maps_onto_grid(wcs: WCS, shape: tuple[int, int], grid: Grid) -> bool:
    """True when every pixel of a frame of ``shape`` lands on the same pixel of ``grid`` (within
    ``ON_GRID_TOLERANCE_PIXELS``), as for the reference frame itself or channels taken at one pointing.

    Checked on a 5x5 lattice across the frame, so a rotation, scale or distortion difference shows.
    Such a frame is read as it is instead of resampled: the same pixels, minus the cost and the
    slight smoothing of interpolating at whole-pixel positions.
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
