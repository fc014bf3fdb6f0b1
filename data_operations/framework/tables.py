"""Operations that read frames and their source catalogues and return tables (photometry).

The science is one method, :meth:`TableOperation.measure`: from the opened frames (header, ``CAT``
table as numpy columns, and the science image on demand) to rows of output data. The framework
fetches the files, opens each frame, skips an unreadable one with a note naming it (one bad frame
of a long series should not lose the rest), and reports progress.
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits

from data_operations.base import BaseDataOperation, OperationResult
from data_operations.context import OperationContext
from data_operations.errors import OperationError
from data_operations.frames import FrameStack
from data_operations.frames.single import read_image
from data_operations.framework.inputs import fetch_files
from data_operations.framework.progress import ProgressPlan, ProgressReport

CATALOG_EXTENSION = "CAT"
FETCH_WEIGHT, OPEN_WEIGHT, MEASURE_WEIGHT = 0.3, 0.1, 0.6

@dataclass
class CatalogFrame:
    """One opened frame: its science header, its source catalogue, and its image on demand."""

    basename: str
    path: Path
    header: fits.Header
    shape: tuple[int, int]
    #: ``CAT`` columns by name (None when the frame has no catalogue).
    catalog: dict[str, np.ndarray] | None

    def image(self) -> np.ndarray:
        """The whole science image as float32 (read when asked, through the project's frame reader)."""
        return read_image(self.path, self.basename)[0]

@dataclass
class TableResult:
    """What the science returns: output data entries and sentences for the user."""

    output_data: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

class TableOperation(BaseDataOperation):
    """Base of the operations whose science maps frames and catalogues to tables."""

    abstract: ClassVar[bool] = True
    input_key: ClassVar[str] = "input_files"
    #: Skip (with a note) frames that have no ``CAT`` table.
    requires_catalog: ClassVar[bool] = False

    @abstractmethod
    def measure(self, frames: list[CatalogFrame], report: ProgressReport) -> TableResult:
        """The science: tables from ``frames`` (in input order); ``report(fraction, message)`` as it goes."""

    def operate(self, context: OperationContext) -> OperationResult:
        plan = ProgressPlan(context, [("fetch", FETCH_WEIGHT), ("open", OPEN_WEIGHT), ("measure", MEASURE_WEIGHT)])
        inputs = fetch_files(context, self.files(self.input_key), plan.step("fetch"))
        report = plan.step("open")
        frames, notes = [], []
        for position, (path, basename) in enumerate(zip(inputs.paths, inputs.basenames, strict=True)):
            report(position / len(inputs.paths), f"Opening frame {position + 1} of {len(inputs.paths)}.")
            try:
                frames.append(open_catalog_frame(path, basename, require_catalog=self.requires_catalog))
            except OperationError as error:
                notes.append(f"{basename} was skipped: {error}")
        if not frames:
            raise OperationError(f"None of the {len(inputs.paths)} input frames could be used. " + " ".join(notes))
        result = self.measure(frames, plan.step("measure"))
        plan.done()
        return OperationResult(output_data=result.output_data, warnings=[*notes, *result.warnings])

def open_catalog_frame(path: Path, basename: str, *, require_catalog: bool = False) -> CatalogFrame:
    """Open one frame's science header and its ``CAT`` table; OperationError when unusable."""
    with FrameStack([path], [basename]) as stack:
        header, shape = stack.frames[0].header, stack.shape
    catalog = _catalog_columns(path, basename)
    if catalog is None and require_catalog:
        raise OperationError(f"Frame {basename} has no {CATALOG_EXTENSION} source catalogue.")
    return CatalogFrame(basename=basename, path=Path(path), header=header, shape=shape, catalog=catalog)

def _catalog_columns(path: Path, basename: str) -> dict[str, np.ndarray] | None:
    try:
        with fits.open(path, memmap=False) as hdul:
            if CATALOG_EXTENSION not in hdul:
                return None
            table = hdul[CATALOG_EXTENSION]
            if not isinstance(table, fits.BinTableHDU):
                raise OperationError(f"Frame {basename} has a {CATALOG_EXTENSION} extension that is not a table.")
            return {name: np.array(table.data[name]) for name in table.columns.names} if table.data is not None \
                else {name: np.array([]) for name in table.columns.names}
    except OperationError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise OperationError(f"Frame {basename} has an unreadable {CATALOG_EXTENSION} table.") from error
