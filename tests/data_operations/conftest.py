"""Fixtures for data operation tests: small FITS frames on disk and an in-memory context."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from data_operations.errors import OperationError


def tan_header(shape: tuple[int, int]) -> fits.Header:
    """A simple TAN WCS centred on the image, 0.39"/pixel."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [202.4696, 47.1952]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    wcs.wcs.cd = [[-0.39 / 3600, 0.0], [0.0, 0.39 / 3600]]
    return wcs.to_header()


def frame_header(shape: tuple[int, int], **keywords: Any) -> fits.Header:
    header = tan_header(shape)
    defaults = {"FILTER": "rp", "OBJECT": "M51", "DATE-OBS": "2026-11-01T03:12:45.000",
                "MJD-OBS": 61345.1338, "EXPTIME": 60.0, "SITEID": "coj", "TELID": "1m0a",
                "INSTRUME": "fa12", "PIXSCALE": 0.389, "GAIN": 1.0}
    for keyword, value in {**defaults, **keywords}.items():
        if value is not None:
            header[keyword] = value
    return header


def _read_sci(path: Path) -> np.ndarray:
    with fits.open(path) as hdul:
        hdu = hdul["SCI"] if "SCI" in hdul else hdul[0]
        return np.asarray(hdu.data, dtype=np.float32)


@pytest.fixture
def read_sci() -> Callable[[Path], np.ndarray]:
    """The whole SCI image as astropy decodes it (float32), independent of our banded reader."""
    return _read_sci


@pytest.fixture
def write_frame(tmp_path: Path) -> Callable[..., Path]:
    """Write ``data`` as an LCO-like frame: empty primary + Rice-compressed ``SCI`` (or plain).

    Rice quantises floats, so expected values must come from ``read_sci``, not ``data``.
    """

    def write(name: str, data: np.ndarray, *, compressed: bool = True, **keywords: Any) -> Path:
        header = frame_header(data.shape, **keywords)
        path = tmp_path / (f"{name}.fits.fz" if compressed else f"{name}.fits")
        if compressed:
            sci = fits.CompImageHDU(data, header=header, name="SCI", compression_type="RICE_1")
            fits.HDUList([fits.PrimaryHDU(), sci]).writeto(path)
        else:
            fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header=header, name="SCI")]).writeto(path)
        return path

    return write


class MemoryContext:
    """An OperationContext backed by a dict of basename -> local path; records progress."""

    def __init__(self, files: dict[str, Path], temp_dir: Path, *, memory_budget_bytes: int = 1 << 30,
                 provenance: dict[str, Any] | None = None, memory_limit_bytes: int | None = None):
        self.files = files
        self._temp_dir = temp_dir
        self._memory_budget_bytes = memory_budget_bytes
        self.memory_limit_bytes = memory_limit_bytes
        self._provenance = provenance if provenance is not None else {
            "operation": "Median", "operation_id": 42, "software_version": "0.1.0",
            "parameters": {},
        }
        self.progress: list[tuple[float, str]] = []

    def input_path(self, item: dict[str, Any]) -> Path:
        try:
            return self.files[item["basename"]]
        except KeyError:
            raise OperationError(f"Frame {item['basename']} was not found.") from None

    def set_progress(self, fraction: float, message: str = "") -> None:
        self.progress.append((fraction, message))

    @property
    def temp_dir(self) -> Path:
        return self._temp_dir

    @property
    def memory_budget_bytes(self) -> int:
        return self._memory_budget_bytes

    @property
    def provenance(self) -> dict[str, Any]:
        return self._provenance


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[..., MemoryContext]:
    def make(files: dict[str, Path], **options: Any) -> MemoryContext:
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        return MemoryContext(files, work, **options)

    return make
