"""The Gaia provider the worker hands to operations, chosen by DATALAB_GAIA_PROVIDER.

Cones from the archive are kept in the service's output storage (local disk or S3), which every
worker shares and which survives restarts; Redis would lose them and cannot hold tens of thousands
of rows comfortably. Retention (``datalab.retention``) deletes entries past GAIA_CACHE_MAX_AGE_SECONDS.
"""
from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from data_operations.photometry.gaia import CachedGaiaProvider, FixtureGaiaProvider, GaiaProvider, TapGaiaProvider

CACHE_PREFIX = "gaia-cache"
FIXTURE_PREFIX = "fixture:"


class StorageConeStore:
    """Cone answers as files under ``gaia-cache/`` in Django's default storage."""

    def name(self, key: str) -> str:
        return f"{CACHE_PREFIX}/{key}.ecsv.gz"

    def load(self, key: str) -> bytes | None:
        name = self.name(key)
        if not default_storage.exists(name):
            return None
        try:
            with default_storage.open(name, "rb") as handle:
                return handle.read()
        except FileNotFoundError:  # removed by retention since exists()
            return None

    def save(self, key: str, content: bytes) -> None:
        name = self.name(key)
        if default_storage.exists(name):
            default_storage.delete(name)
        default_storage.save(name, ContentFile(content))


def configured_gaia_provider() -> GaiaProvider:
    """The provider DATALAB_GAIA_PROVIDER names: a fixture file as is, or the TAP service behind the cache."""
    choice = settings.DATALAB_GAIA_PROVIDER
    if choice.startswith(FIXTURE_PREFIX):
        return FixtureGaiaProvider(choice[len(FIXTURE_PREFIX):])
    if choice != "tap":
        raise ValueError(f"DATALAB_GAIA_PROVIDER must be 'tap' or 'fixture:<path>'; got {choice!r}.")
    tap = TapGaiaProvider(settings.GAIA_TAP_URL, timeout_seconds=settings.GAIA_TIMEOUT_SECONDS)
    return CachedGaiaProvider(tap, StorageConeStore(), max_age_seconds=settings.GAIA_CACHE_MAX_AGE_SECONDS)
