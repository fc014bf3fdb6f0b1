"""Reading FITS files under LOCAL_ARCHIVE_DIR into ArchiveFrame rows, and their JPEG thumbnails.

The index is derived data: re-running it is always safe, and it is the only writer of the table.
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
import warnings
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from django.conf import settings
from django.utils import timezone as django_timezone

from data_operations.analysis.sky import json_value
from data_operations.errors import OperationError
from data_operations.frames.science import science_hdu_index
from data_operations.frames.single import read_image
from data_operations.products.previews import write_jpeg_previews
from datalab.local_archive.models import ArchiveFrame

logger = logging.getLogger(__name__)

FRAME_SUFFIXES = (".fits.fz", ".fits", ".fz", ".fits.gz")
THUMBNAIL_DIR_NAME = ".thumbnails"
THUMBNAIL_PIXELS = {"small": 256, "large": 2048}
_SKIPPED_KEYWORDS = {"", "COMMENT", "HISTORY"}


def archive_root() -> Path:
    return Path(settings.LOCAL_ARCHIVE_DIR)


def basename_of(path: Path) -> str | None:
    """``coj1m011-...-e91.fits.fz`` -> ``coj1m011-...-e91``; None for files that are not frames."""
    for suffix in FRAME_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def science_header(hdul: fits.HDUList) -> tuple[fits.Header, tuple[int, int] | None]:
    """The science image's header (the readers' one rule: ``SCI``, else the first 2-D image; else the
    primary header) and its (ny, nx) shape."""
    index = science_hdu_index(hdul)
    header = hdul[0 if index is None else index].header
    if header.get("NAXIS") == 2:
        return header, (int(header["NAXIS2"]), int(header["NAXIS1"]))
    return header, None


def header_dict(header: fits.Header) -> dict[str, Any]:
    cards = (card for card in header.cards if card.keyword not in _SKIPPED_KEYWORDS)
    return {card.keyword: json_value(card.value) for card in cards}


Footprint = tuple[dict | None, float | None, float | None]


def footprint(header: fits.Header, shape: tuple[int, int] | None) -> Footprint:
    """(GeoJSON polygon, centre ra, centre dec) from a celestial WCS; Nones when there is none."""
    if shape is None:
        return None, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header).celestial
        except Exception:  # a malformed WCS is common in the wild: index the frame without one
            return None, None, None
    if not wcs.has_celestial or wcs.naxis != 2:
        return None, None, None
    ny, nx = shape
    try:
        corners = wcs.calc_footprint(axes=(nx, ny))
        centre_ra, centre_dec = wcs.all_pix2world([(nx + 1) / 2.0], [(ny + 1) / 2.0], 1)
    except Exception:
        return None, None, None
    if not np.all(np.isfinite(corners)):
        return None, None, None
    ring = [[float(ra), float(dec)] for ra, dec in corners]
    polygon = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
    return polygon, float(centre_ra[0]) % 360.0, float(centre_dec[0])


def parse_fits_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _observation_day(header: fits.Header, observed: datetime | None) -> date | None:
    day = str(header.get("DAY-OBS", "")).strip()
    if len(day) == 8 and day.isdigit():
        return date(int(day[:4]), int(day[4:6]), int(day[6:]))
    return observed.date() if observed else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    safe = json_value(value)
    return float(safe) if isinstance(safe, (int, float)) and not isinstance(safe, bool) else None


def frame_fields(path: Path) -> dict[str, Any]:
    """Everything the index stores about one file, read from its SCI header and bytes."""
    if not path.is_relative_to(archive_root().resolve()):
        raise ValueError(f"{path} is outside LOCAL_ARCHIVE_DIR ({archive_root()}).")
    with fits.open(path, memmap=False) as hdul:
        header, shape = science_header(hdul)
        headers = header_dict(header)
        area, centre_ra, centre_dec = footprint(header, shape)
    observed = parse_fits_datetime(header.get("DATE-OBS"))
    decs = [corner[1] for corner in area["coordinates"][0]] if area else []
    return {
        "filename": path.name,
        "path": str(path.relative_to(archive_root().resolve())),
        "md5": file_md5(path),
        "size": path.stat().st_size,
        "observation_date": observed,
        "observation_day": _observation_day(header, observed),
        "primary_optical_element": str(header.get("FILTER", "")).strip(),
        "target_name": str(header.get("OBJECT", "")).strip(),
        "site_id": str(header.get("SITEID", "")).strip(),
        "telescope_id": str(header.get("TELID", "")).strip(),
        "instrument_id": str(header.get("INSTRUME", "")).strip(),
        "proposal_id": str(header.get("PROPID", "")).strip(),
        "public_date": parse_fits_datetime(header.get("L1PUBDAT")),
        "reduction_level": _int_or_none(header.get("RLEVEL")) or 0,
        "exposure_time": _float_or_none(header.get("EXPTIME")),
        "configuration_type": str(header.get("OBSTYPE", "")).strip(),
        "request_id": _int_or_none(header.get("REQNUM")),
        "area": area,
        "headers": headers,
        "ra": centre_ra,
        "dec": centre_dec,
        "dec_min": min(decs) if decs else None,
        "dec_max": max(decs) if decs else None,
    }


def index_file(path: str | os.PathLike[str]) -> ArchiveFrame:
    """Create or update the row of one file (inside LOCAL_ARCHIVE_DIR); keyed by basename."""
    file_path = Path(path)
    if not file_path.is_absolute():
        file_path = archive_root() / file_path
    basename = basename_of(file_path)
    if basename is None:
        expected = ", ".join(FRAME_SUFFIXES)
        raise ValueError(f"{file_path.name} is not a FITS frame (expected one of {expected}).")
    fields = frame_fields(file_path.resolve())
    existing = ArchiveFrame.objects.filter(basename=basename).only("md5").first()
    if existing is None or existing.md5 != fields["md5"]:
        fields["version_created"] = django_timezone.now()
    frame, _ = ArchiveFrame.objects.update_or_create(basename=basename, defaults=fields)
    return frame


def frame_files(directory: Path) -> list[Path]:
    """Frame files under ``directory``, skipping hidden folders (thumbnails) and temporaries."""
    found = []
    for folder, subfolders, names in os.walk(directory):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        found.extend(Path(folder) / name for name in sorted(names)
                     if not name.startswith(".") and basename_of(Path(name)))
    return found


def index_directory(directory: Path | None = None, *, prune: bool = True) -> list[ArchiveFrame]:
    """Index every frame file under LOCAL_ARCHIVE_DIR; with ``prune``, drop rows of vanished files."""
    root = Path(directory) if directory else archive_root()
    frames = []
    for path in frame_files(root):
        try:
            frames.append(index_file(path))
        except (OSError, ValueError) as error:
            logger.warning("skipping %s: %s", path, error)
    if prune:
        ArchiveFrame.objects.exclude(id__in=[frame.id for frame in frames]).delete()
    return frames


# --- thumbnails --------------------------------------------------------------------------------
def thumbnail_path(frame: ArchiveFrame, size: str) -> Path:
    """Where the JPEG of ``frame`` at ``size`` is cached; the md5 in the name follows new versions."""
    return archive_root() / THUMBNAIL_DIR_NAME / f"{frame.basename}-{frame.md5[:12]}-{size}.jpg"


def ensure_thumbnails(frame: ArchiveFrame) -> None:
    """Write both JPEG sizes once (atomically); later calls find them and return at once."""
    small, large = thumbnail_path(frame, "small"), thumbnail_path(frame, "large")
    if small.exists() and large.exists():
        return
    small.parent.mkdir(parents=True, exist_ok=True)
    try:
        data, _ = read_image(archive_root() / frame.path, frame.basename)  # the operations' reader and checks
    except OperationError as error:
        raise ValueError(str(error)) from error
    suffix = f".{uuid.uuid4().hex}.tmp.jpg"
    small_tmp, large_tmp = small.with_name(small.name + suffix), large.with_name(large.name + suffix)
    try:
        write_jpeg_previews(data, large_path=large_tmp, small_path=small_tmp,
                            large_size=THUMBNAIL_PIXELS["large"], small_size=THUMBNAIL_PIXELS["small"])
        os.replace(large_tmp, large)
        os.replace(small_tmp, small)
    finally:
        small_tmp.unlink(missing_ok=True)
        large_tmp.unlink(missing_ok=True)
