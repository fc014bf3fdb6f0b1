"""astropy's Rice codec, the one private astropy import of the project, checked against the version.

astropy decodes a Rice tile in C (``decompress_rice_1_c``) but exposes it only in a private module.
The tile decoder uses it for the Rice tiles the project's own C decoder does not take (or when
that decoder is not built). It is imported only from the astropy versions it was checked against;
with any other version, or if the import fails, ``rice_decoder`` returns None and the reader falls
back to astropy's public ``CompImageHDU.section``, which gives the same pixels, only slower.
"""
from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable

import astropy

# Versions whose private module has ``decompress_rice_1_c(bytes, blocksize, bytepix, count)``:
# from 6.1 (the project's lowest) up to, not including, the next major version not yet checked.
CHECKED_VERSIONS = ((6, 1), (9, 0))
_PRIVATE_MODULE = "astropy.io.fits.hdu.compressed._compression"

logger = logging.getLogger(__name__)

RiceDecoder = Callable[[bytes, int, int, int], bytes]


def _version(text: str) -> tuple[int, int]:
    parts = (text.split(".") + ["0", "0"])[:2]
    digits = ["".join(character for character in part if character.isdigit()) or "0" for part in parts]
    return int(digits[0]), int(digits[1])


def version_is_checked(version: str) -> bool:
    """True when ``version`` lies in ``CHECKED_VERSIONS`` (lower bound included, upper excluded)."""
    low, high = CHECKED_VERSIONS
    return low <= _version(version) < high


@functools.cache
def rice_decoder() -> RiceDecoder | None:
    """astropy's C Rice decoder (bytes, blocksize, bytepix, pixel count) -> bytes, or None."""
    if not version_is_checked(astropy.__version__):
        logger.warning("astropy %s is outside the checked versions; Rice tiles are read through "
                       "CompImageHDU.section.", astropy.__version__)
        return None
    try:
        decoder = importlib.import_module(_PRIVATE_MODULE).decompress_rice_1_c
    except (ImportError, AttributeError) as error:
        logger.warning("astropy's Rice codec is not importable (%s); using CompImageHDU.section.", error)
        return None
    return decoder if callable(decoder) else None
