"""astropy's Rice codec, the one private astropy import of the project, checked against the version.

astropy decodes a Rice tile in C (``decompress_rice_1_c``) but exposes it only in a private module.
The tile decoder uses it for the Rice tiles the project's own C decoder does not take (or when
that decoder is not built). It is imported only from the astropy versions it was checked against;
with any other version, or if the import fails, ``rice_decoder`` returns None and the reader falls
back to astropy's public ``CompImageHDU.section``, which gives the same pixels, only slower.

astropy's decoder looks for the end of the stream only between blocks: inside a block it reads on
past a truncated tile, and a run of zero bytes there can carry it to an unmapped page (a crash of
the process). A stream holds at least its first pixel (4 bytes) and a 5-bit code per block, so
:func:`rice_decoder` refuses a tile shorter than that before astropy sees it; a tile cut by fewer
bytes than that can still be over-read. The project's own C decoder (frames/_rice.c) checks every
read and takes all quantised tiles when it is built.
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
    return functools.partial(_decode_long_enough, decoder) if callable(decoder) else None


def _decode_long_enough(decoder: RiceDecoder, compressed: bytes, blocksize: int, bytepix: int, count: int) -> bytes:
    """``decoder``'s pixels of one tile, refusing a tile too short to hold them (ValueError)."""
    blocks = -(-count // max(blocksize, 1))
    if len(compressed) < bytepix + -(-5 * blocks // 8):
        raise ValueError("the tile ends before its last pixel.")
    return decoder(compressed, blocksize, bytepix, count)
