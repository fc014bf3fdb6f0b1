"""Which frame file a request may analyse: the user's archive rights or their own outputs decide."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from rest_framework.exceptions import NotFound

from data_operations.errors import OperationError, TransientError
from datalab.analysis.products import FrameProducts, frame_key
from datalab.archive import rights as archive_rights
from datalab.archive.frame_cache import FrameCache
from datalab.datalab_session import selectors
from datalab.datalab_session.exceptions import ServiceUnavailable
from datalab.datalab_session.models import OutputFile
from datalab.datalab_session.selectors import archive_token_for


def analysis_cache() -> FrameCache:
    return FrameCache(directory=Path(settings.ANALYSIS_CACHE_DIR), max_bytes=settings.ANALYSIS_CACHE_MAX_BYTES)


def _archive_frame(*, user, basename: str) -> tuple[Path, str]:
    """The frame's file, once the archive confirmed (or recently confirmed) that the user may see it."""
    try:
        path = archive_rights.frame_path(basename=basename, token=archive_token_for(user))
    except OperationError as error:  # not found, not visible with this token, or refused
        raise NotFound(str(error)) from error
    except TransientError as error:
        raise ServiceUnavailable(str(error)) from error
    # The file's name and size and mtime change with the frame's content (the cache name carries its md5).
    stat = path.stat()
    return path, f"archive:{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def _local_copy(record: OutputFile, cache: FrameCache) -> Path:
    """A local path of the output's FITS: the stored file itself, or a cached copy for remote storage."""
    try:
        return Path(default_storage.path(record.fits_name))
    except NotImplementedError:
        pass
    key = f"{frame_key(f'datalab-copy:{record.basename}:{record.fits_name}')}.source.fits"
    cached = cache.lookup(key)
    if cached is not None:
        return cached
    with cache.key_lock(key):
        cached = cache.lookup(key)
        if cached is not None:
            return cached
        temporary = cache.temporary_path(key)
        try:
            with default_storage.open(record.fits_name, "rb") as source, open(temporary, "wb") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
            return cache.commit(temporary, key)
        finally:
            temporary.unlink(missing_ok=True)


def output_record(*, user, basename: str) -> OutputFile:
    """The user's own output with a FITS file; 404 for anyone else's, or for none."""
    record = selectors.output_file_for(user=user, basename=basename)
    if record is None or not record.fits_name:
        raise NotFound(f"Datalab output {basename} was not found.")
    return record


def resolve_frame(*, user, basename: str, source: str) -> tuple[FrameProducts, OutputFile | None]:
    """The products of the frame the user asked for, and the output record when it is one of theirs."""
    cache = analysis_cache()
    record = None
    if source == "datalab":
        record = output_record(user=user, basename=basename)
        path = _local_copy(record, cache)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            raise NotFound(f"Datalab output {basename} was not found.") from None
        identity = f"datalab:{record.basename}:{record.fits_name}:{size}"  # outputs never change
    else:
        path, identity = _archive_frame(user=user, basename=basename)
    return FrameProducts(fits_path=path, identity=identity, cache=cache, label=basename), record
