"""Which HDU of a FITS file is the science image, and whether a compressed one may be decoded.

One rule for every reader (operations, analysis, the local archive's index and thumbnails): the
HDU named ``SCI``, else the first HDU holding a 2-D image. An fpack file whose image extension has
no ``EXTNAME`` is therefore read like an archive frame.

A tile-compressed image's stored header is checked before any decoder sees it: astropy's C
decoder trusts values such as ``ZDITHER0`` (a negative one crashes the process) and the tile
sizes, so a file whose header contradicts itself is refused with a sentence instead.
"""
from __future__ import annotations

import math

from astropy.io import fits

SCI_EXTENSION = "SCI"
DITHER_SEED_RANGE = (1, 10_000)  # FITS standard 4.0, section 10.2: ZDITHER0 picks one of 10 000 values
DITHERED_METHODS = ("SUBTRACTIVE_DITHER_1", "SUBTRACTIVE_DITHER_2")
ZBITPIX_VALUES = (8, 16, 32, 64, -32, -64)
BYTEPIX_VALUES = (1, 2, 4, 8)


def is_2d_image(hdu: object) -> bool:
    """True for an image HDU (plain or compressed) of exactly two axes, both non-empty."""
    if not getattr(hdu, "is_image", False):
        return False
    shape = tuple(getattr(hdu, "shape", ()) or ())
    return len(shape) == 2 and min(shape) >= 1


def science_hdu_index(hdul: fits.HDUList) -> int | None:
    """Index of ``SCI`` (an image HDU by that name), else of the first 2-D image; None if neither."""
    for index, hdu in enumerate(hdul):
        if hdu.name.strip().upper() == SCI_EXTENSION and getattr(hdu, "is_image", False):
            return index
    for index, hdu in enumerate(hdul):
        if is_2d_image(hdu):
            return index
    return None


def _integer(header: fits.Header, keyword: str) -> int | None:
    value = header.get(keyword)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        return None
    return int(value)


def compressed_header_problem(stored: fits.Header) -> str | None:
    """What makes a tile-compressed image's stored (binary table) header unsafe to decode, or None.

    Checks the image axes and tile sizes against the number of tile rows in the table, the dither
    seed, and the codec parameters, each within the range the tiled image convention allows.
    """
    naxes = _integer(stored, "ZNAXIS")
    if naxes is None or not 1 <= naxes <= 999:
        return "ZNAXIS is missing or not a positive integer"
    tiles = 1
    for axis in range(1, naxes + 1):
        length = _integer(stored, f"ZNAXIS{axis}")
        if length is None or length < 1:
            return f"ZNAXIS{axis} is missing or not a positive integer"
        tile = _integer(stored, f"ZTILE{axis}") if f"ZTILE{axis}" in stored else (length if axis == 1 else 1)
        if tile is None or tile < 1:
            return f"ZTILE{axis} is not a positive integer"
        tiles *= math.ceil(length / tile)
    rows = _integer(stored, "NAXIS2")
    if rows != tiles:
        return f"the image axes and tile sizes need {tiles} tiles but the table holds {rows}"
    if _integer(stored, "ZBITPIX") not in ZBITPIX_VALUES:
        return "ZBITPIX is not a FITS pixel type"
    quantize = str(stored.get("ZQUANTIZ", "")).strip().upper()
    if quantize in DITHERED_METHODS or "ZDITHER0" in stored:
        seed = _integer(stored, "ZDITHER0")
        low, high = DITHER_SEED_RANGE
        if seed is None or not low <= seed <= high:
            return f"ZDITHER0 is {stored.get('ZDITHER0')!r}, outside {low} to {high}"
    settings = {str(stored.get(f"ZNAME{i}", "")).strip().upper(): f"ZVAL{i}" for i in range(1, 100)
                if f"ZNAME{i}" in stored}
    if "BLOCKSIZE" in settings:
        blocksize = _integer(stored, settings["BLOCKSIZE"])
        if blocksize is None or not 1 <= blocksize <= 1 << 16:
            return "the Rice BLOCKSIZE is not a positive integer"
    if "BYTEPIX" in settings and _integer(stored, settings["BYTEPIX"]) not in BYTEPIX_VALUES:
        return "the Rice BYTEPIX is not 1, 2, 4 or 8"
    return None
