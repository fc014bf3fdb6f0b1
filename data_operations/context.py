"""What an operation may ask of the service that runs it, without importing Django.

The worker passes an object with this shape to :meth:`BaseDataOperation.operate`; tests pass a
small in-memory implementation. Keeping the seam here lets every kernel and operation run and be
tested with plain numpy/astropy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class OutputFile:
    """One product of an operation, written under the context's temp dir, ready to publish.

    ``fits_path`` is a tile-compressed FITS with a ``SCI`` extension (None for image-only products);
    ``large_jpg_path`` and ``small_jpg_path`` are zscale previews; ``metadata`` carries keys copied
    into the ``output_files`` entry (``filter``, ``target_name``, ...).
    """

    fits_path: Path | None
    large_jpg_path: Path
    small_jpg_path: Path
    tif_path: Path | None = None
    type: str = "fits"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataFile:
    """A file an operation offers with its output data (an ECSV table, a diagnostic JPEG), under the temp dir.

    The worker publishes it and puts its signed URL at ``output_data[entry][section][key]``.
    """

    path: Path
    key: str
    entry: int = 0
    section: str = "downloads"


class OperationContext(Protocol):
    """Services the runner provides to an operation while it computes."""

    def input_path(self, item: dict[str, Any]) -> Path:
        """Local path of the FITS file behind an input item (archive frame or earlier output).

        Raises OperationError when the file cannot be found with the owner's rights and
        TransientError when the archive is unavailable.
        """

    def set_progress(self, fraction: float, message: str = "") -> None:
        """Record progress (0..1) and a short message the user sees while the operation runs."""

    @property
    def temp_dir(self) -> Path:
        """A private scratch directory, removed by the runner after success or failure."""

    @property
    def memory_budget_bytes(self) -> int:
        """How many bytes of pixel buffers the operation may hold at once."""

    @property
    def memory_limit_bytes(self) -> int | None:
        """The most memory one operation may use in all (None: no limit); see BaseDataOperation.admit."""

    # Optional: ``gaia_provider``, a data_operations.photometry.gaia.GaiaProvider (cached, with a
    # deadline) for operations that ask for a Gaia cone; a context without it cannot run them.
    # Optional: ``horizons_provider``, a data_operations.photometry.horizons.HorizonsProvider (cached, with a
    # deadline) for operations that look a moving target up by designation; without it they cannot run.

    @property
    def provenance(self) -> dict[str, Any]:
        """Keys to record in every output header: operation name, id, software version, ..."""
