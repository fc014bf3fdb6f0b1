"""Retention of what the service keeps on its own: frame and analysis caches, analysis TIFFs, Gaia cones.

Outputs go with the operations that list them (``datalab_session.signals``); everything here can
be rebuilt on demand, so it is kept within an age and a size. Every worker applies this
periodically (settings.WORKER_PERIODIC_TASKS); ``manage.py apply_retention`` applies it at once,
for example from a cron job next to a web server whose analysis cache is on its own disk.
"""
from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.files.storage import default_storage

from datalab.analysis.actions import ANALYSIS_PRODUCTS_FOLDER
from datalab.analysis.frames import analysis_cache
from datalab.archive.client import default_cache
from datalab.datalab_session.gaia import CACHE_PREFIX as GAIA_CACHE_FOLDER

logger = logging.getLogger(__name__)


def expire_stored_products(folder: str, *, max_age_seconds: float) -> int:
    """Delete the files directly under ``folder`` of the output storage older than ``max_age_seconds``."""
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    older_than = time.time() - max_age_seconds
    removed = 0
    for name in names:
        path = f"{folder}/{name}"
        if default_storage.get_modified_time(path).timestamp() < older_than:
            default_storage.delete(path)
            removed += 1
    return removed


def apply_retention() -> dict[str, int]:
    """Apply every retention rule once; returns how many files each one removed."""
    removed = {
        "frame cache": len(default_cache().evict(max_age_seconds=settings.FRAME_CACHE_MAX_AGE_SECONDS)),
        "analysis cache": len(analysis_cache().evict(max_age_seconds=settings.ANALYSIS_CACHE_MAX_AGE_SECONDS)),
        "analysis products": expire_stored_products(ANALYSIS_PRODUCTS_FOLDER,
                                                    max_age_seconds=settings.ANALYSIS_PRODUCT_MAX_AGE_SECONDS),
        "gaia cache": expire_stored_products(GAIA_CACHE_FOLDER, max_age_seconds=settings.GAIA_CACHE_MAX_AGE_SECONDS),
    }
    if any(removed.values()):
        logger.info("retention removed %s", ", ".join(f"{count} from the {what}" for what, count in removed.items()))
    return removed
