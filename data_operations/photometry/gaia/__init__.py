"""Gaia DR3 cone searches for the photometry operations, behind one seam.

``GaiaProvider.cone(ra, dec, radius_arcmin)`` returns the archive's rows (epoch 2016.0, masked
values where the archive has none). Three implementations share it: a fixture file (tests, offline
work), the ESA TAP service under a hard deadline (production), and a cache wrapper that keeps
successful answers in durable storage for 30 days. The post-processing every caller needs (RUWE
cut, parallax zero point, synthetic magnitude errors, NaN for missing values) is ``prepare_cone``,
so every provider's rows are treated alike.
"""
from data_operations.photometry.gaia.cache import CACHE_VERSION, CachedGaiaProvider, ConeStore, MemoryConeStore
from data_operations.photometry.gaia.fixture import FixtureGaiaProvider
from data_operations.photometry.gaia.provider import (
    GAIA_COLUMNS,
    GAIA_EPOCH_JYEAR,
    GAIA_RELEASE,
    PARALLAX_ZERO_POINT_MAS,
    RUWE_LIMIT,
    SYNTHETIC_BAND_OF_FILTER,
    SYNTHETIC_BANDS,
    UNAVAILABLE,
    ConeQuery,
    GaiaProvider,
    GaiaUnavailable,
    prepare_cone,
)
from data_operations.photometry.gaia.tap import TapGaiaProvider

__all__ = [
    "CACHE_VERSION",
    "GAIA_COLUMNS",
    "GAIA_EPOCH_JYEAR",
    "GAIA_RELEASE",
    "PARALLAX_ZERO_POINT_MAS",
    "RUWE_LIMIT",
    "SYNTHETIC_BANDS",
    "SYNTHETIC_BAND_OF_FILTER",
    "UNAVAILABLE",
    "CachedGaiaProvider",
    "ConeQuery",
    "ConeStore",
    "FixtureGaiaProvider",
    "GaiaProvider",
    "GaiaUnavailable",
    "MemoryConeStore",
    "TapGaiaProvider",
    "prepare_cone",
]
