"""Operations that read frames and their source catalogues and return tables (photometry).

The science is one method, :meth:`TableOperation.measure`: from the opened frames (header, ``CAT``
table as numpy columns, and the science image with its ``BPM``/``ERR`` planes on demand) to rows of
output data, plus tables offered for download. The framework fetches the files, opens each frame,
skips an unreadable one with a note naming it (one bad frame of a long series should not lose the
rest; the science sees those notes in ``skipped_frames``), fetches the Gaia stars the science
asks for (``gaia_cone``) from the context's provider, writes the downloads (tables as ECSV, text
as it is) and reports progress.
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits
from astropy.table import Table

from data_operations.base import BaseDataOperation, OperationResult
from data_operations.context import DataFile, OperationContext
from data_operations.errors import OperationError
from data_operations.frames.single import read_image
from data_operations.framework.catalog_file import read_frame_catalog
from data_operations.framework.inputs import fetch_files
from data_operations.framework.progress import ProgressPlan, ProgressReport
from data_operations.photometry.gaia import ConeQuery, prepare_cone
from data_operations.photometry.horizons import look_up
from data_operations.photometry.track import TrackSample

CATALOG_EXTENSION = "CAT"
MASK_EXTENSION, ERROR_EXTENSION = "BPM", "ERR"
FETCH_WEIGHT, OPEN_WEIGHT, MEASURE_WEIGHT, GAIA_WEIGHT, HORIZONS_WEIGHT = 0.3, 0.1, 0.6, 0.3, 0.1
NO_GAIA_PROVIDER = "This server has no Gaia catalogue configured, so operations that need Gaia cannot run here."
NO_HORIZONS_PROVIDER = ("JPL Horizons is not available on this server; give the target's positions "
                        "(target_positions) instead of its designation.")

@dataclass
class CatalogFrame:
    """One opened frame: its science header, its source catalogue, and its image on demand."""

    basename: str
    path: Path
    header: fits.Header
    shape: tuple[int, int]
    #: ``CAT`` columns by name (None when the frame has no catalogue).
    catalog: dict[str, np.ndarray] | None
    #: The ``fits`` input the frame was given in (operations with several image inputs tell them apart).
    input_key: str = ""

    def image(self) -> np.ndarray:
        """The whole science image as float32 (read when asked, through the project's frame reader)."""
        return read_image(self.path, self.basename)[0]

    def planes(self) -> FramePlanes:
        """The science image with its bad-pixel and error planes (each None when the frame has none).

        Reads the file once; a plane of another shape than the image is ignored.
        """
        image = self.image()
        extras: dict[str, np.ndarray | None] = {MASK_EXTENSION: None, ERROR_EXTENSION: None}
        with fits.open(self.path, memmap=False) as hdul:
            for name in extras:
                if name in hdul and hdul[name].data is not None and hdul[name].data.shape == image.shape:
                    extras[name] = np.asarray(hdul[name].data)
        bad = extras[MASK_EXTENSION]
        return FramePlanes(image=image, bad=None if bad is None else bad != 0, error=extras[ERROR_EXTENSION])


@dataclass
class FramePlanes:
    """One frame's pixels: the image, True where the BPM flags a pixel, and the 1-sigma error plane."""

    image: np.ndarray
    bad: np.ndarray | None
    error: np.ndarray | None


@dataclass
class TableDownload:
    """A table offered for download as ECSV, linked from ``output_data[entry]["downloads"][key]``."""

    table: Table
    filename: str
    key: str = "ecsv"
    entry: int = 0


@dataclass
class TextDownload:
    """A text file offered for download (an observation report), linked like a :class:`TableDownload`."""

    text: str
    filename: str
    key: str
    entry: int = 0


@dataclass
class TableFile:
    """Bytes published beside the output data (a diagnostic JPEG), linked at ``[entry][section][key]``."""

    content: bytes
    filename: str
    key: str
    section: str = "diagnostic_images"
    entry: int = 0


@dataclass
class TableResult:
    """What the science returns: output data entries, sentences for the user, tables and files to publish."""

    output_data: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    downloads: list[TableDownload | TextDownload] = field(default_factory=list)
    files: list[TableFile] = field(default_factory=list)

class TableOperation(BaseDataOperation):
    """Base of the operations whose science maps frames and catalogues to tables."""

    abstract: ClassVar[bool] = True
    input_key: ClassVar[str] = "input_files"
    #: Several ``fits`` inputs read in this order, when set (each frame records its ``input_key``).
    input_keys: ClassVar[tuple[str, ...]] = ()
    #: Skip (with a note) frames that have no ``CAT`` table.
    requires_catalog: ClassVar[bool] = False
    #: Frames the framework could not open, by basename, with the reason (set before ``measure``).
    skipped_frames: dict[str, str]
    #: Prepared Gaia rows of ``gaia_cone()`` (set before ``measure``; None when no cone is asked for).
    gaia_stars: Table | None = None
    #: JPL Horizons positions of ``ephemeris_designation()`` at each frame's mid-exposure (set before
    #: ``measure``; None when none is asked for).
    ephemeris: list[TrackSample] | None = None

    def preflight(self, frames: list[CatalogFrame]) -> None:
        """Refuse frames the science cannot use (OperationError) before slow fetches such as the Gaia cone."""

    def gaia_cone(self) -> ConeQuery | None:
        """The Gaia cone the science needs, fetched by the framework before ``measure`` (None: no Gaia)."""
        return None

    def ephemeris_designation(self) -> str | None:
        """The moving target whose JPL Horizons positions the science needs, looked up by the framework before
        ``measure`` (None: none)."""
        return None

    @abstractmethod
    def measure(self, frames: list[CatalogFrame], report: ProgressReport) -> TableResult:
        """The science: tables from ``frames`` (in input order); ``report(fraction, message)`` as it goes."""

    def operate(self, context: OperationContext) -> OperationResult:
        cone = self.gaia_cone()
        designation = self.ephemeris_designation()
        plan = ProgressPlan(context, [("fetch", FETCH_WEIGHT), ("open", OPEN_WEIGHT),
                                      *([("gaia", GAIA_WEIGHT)] if cone is not None else []),
                                      *([("horizons", HORIZONS_WEIGHT)] if designation is not None else []),
                                      ("measure", MEASURE_WEIGHT)])
        keys = self.input_keys or (self.input_key,)
        items = [item for key in keys for item in self.files(key)]
        item_keys = [key for key in keys for _ in self.files(key)]
        inputs = fetch_files(context, items, plan.step("fetch"))
        report = plan.step("open")
        frames, notes = [], []
        self.skipped_frames = {}
        for position, (path, basename) in enumerate(zip(inputs.paths, inputs.basenames, strict=True)):
            report(position / len(inputs.paths), f"Opening frame {position + 1} of {len(inputs.paths)}.")
            try:
                frames.append(open_catalog_frame(path, basename, require_catalog=self.requires_catalog,
                                                 input_key=item_keys[position]))
            except OperationError as error:
                notes.append(f"{basename} was skipped: {error}")
                self.skipped_frames[basename] = str(error)
        if not frames:
            raise OperationError(f"None of the {len(inputs.paths)} input frames could be used. " + " ".join(notes))
        self.preflight(frames)
        if cone is not None:
            self.gaia_stars = _gaia_stars(context, cone, plan.step("gaia"))
        if designation is not None:
            self.ephemeris = _ephemeris(context, designation, frames, plan.step("horizons"))
        result = self.measure(frames, plan.step("measure"))
        data_files = [_write_download(download, context) for download in result.downloads]
        data_files += [_write_file(position, item, context) for position, item in enumerate(result.files)]
        plan.done()
        return OperationResult(output_data=result.output_data, warnings=[*notes, *result.warnings],
                               data_files=data_files)


def _ephemeris(context: OperationContext, designation: str, frames: list[CatalogFrame],
               report: ProgressReport) -> list[TrackSample]:
    """The target's positions at the frames' mid-exposures from the context's provider (cached, with a deadline)."""
    provider = getattr(context, "horizons_provider", None)
    if provider is None:
        raise OperationError(NO_HORIZONS_PROVIDER)
    report(0.0, f"Asking JPL Horizons for the positions of {designation}.")
    samples = look_up(provider, designation, frames)
    report(1.0, f"JPL Horizons gave {len(samples)} positions of {designation}.")
    return samples


def _gaia_stars(context: OperationContext, cone: ConeQuery, report: ProgressReport) -> Table:
    """The prepared Gaia rows of ``cone`` from the context's provider (cached, with a deadline, by the service)."""
    provider = getattr(context, "gaia_provider", None)
    if provider is None:
        raise OperationError(NO_GAIA_PROVIDER)
    report(0.0, f"Querying Gaia within {cone.radius_arcmin:g} arcmin of RA {cone.ra:.4f}, Dec {cone.dec:.4f}.")
    stars = prepare_cone(provider.cone(cone))
    report(1.0, f"Gaia returned {len(stars)} sources with reliable astrometry.")
    return stars


def _write_download(download: TableDownload | TextDownload, context: OperationContext) -> DataFile:
    path = Path(context.temp_dir) / Path(download.filename).name
    if isinstance(download, TextDownload):
        path.write_text(download.text, encoding="utf-8")
    else:
        download.table.write(path, format="ascii.ecsv", overwrite=True)
    return DataFile(path=path, key=download.key, entry=download.entry)


def _write_file(position: int, item: TableFile, context: OperationContext) -> DataFile:
    path = Path(context.temp_dir) / f"file-{position:04d}-{Path(item.filename).name}"
    path.write_bytes(item.content)
    return DataFile(path=path, key=item.key, entry=item.entry, section=item.section)

def open_catalog_frame(path: Path, basename: str, *, require_catalog: bool = False,
                       input_key: str = "") -> CatalogFrame:
    """Open one frame's science header and its ``CAT`` table; OperationError when unusable.

    Only the headers and the table are read (``catalog_file``); the science image is read by the
    project's frame reader when asked.
    """
    header, shape, catalog = read_frame_catalog(Path(path), basename, CATALOG_EXTENSION)
    if catalog is None and require_catalog:
        raise OperationError(f"Frame {basename} has no {CATALOG_EXTENSION} source catalogue.")
    return CatalogFrame(basename=basename, path=Path(path), header=header, shape=shape, catalog=catalog,
                        input_key=input_key)
