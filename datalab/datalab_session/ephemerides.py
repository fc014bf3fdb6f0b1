"""The JPL Horizons provider the worker hands to operations, as the settings choose it.

``HORIZONS_PROVIDER`` selects the live service (answers cached in the service's cache for 30
days, failures never), recorded answers, the demo sky's own synthetic asteroid (other
designations still go to the live service), or none.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from data_operations.photometry.horizons import HorizonsProvider, LiveHorizons, StoredHorizons


def stored_answers(spec: str) -> dict[str, Path]:
    """``"<designation>=<path>;..."`` as a mapping (designations may hold spaces)."""
    answers = {}
    for part in spec.split(";"):
        if "=" in part:
            designation, path = part.split("=", 1)
            answers[designation.strip()] = Path(path.strip())
    return answers


def configured_horizons() -> HorizonsProvider | None:
    choice = str(settings.HORIZONS_PROVIDER).strip()
    live = LiveHorizons(timeout_seconds=settings.HORIZONS_TIMEOUT_SECONDS, url=settings.HORIZONS_URL, cache=cache)
    if choice == "live":
        return live
    if choice.startswith("stored:"):
        return StoredHorizons(stored_answers(choice[len("stored:"):]))
    if choice == "synthetic-demo":
        from datalab.local_archive.synthetic import DemoSkyHorizons

        return DemoSkyHorizons(fallback=live)
    return None
