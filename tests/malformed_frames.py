"""Compressed frames with damaged headers or tiles, made by editing a valid fpack file's bytes.

astropy's own writer refuses to produce most of these, so a good file is written first and then
one card or one tile descriptor is overwritten in place: the file stays the same length and
astropy still opens it, exactly as a damaged download would arrive.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

GOOD_SHAPE = (41, 70)


def good_rice_frame(path: Path, *, extname: str | None = "SCI", seed: int = 0) -> Path:
    """A dithered RICE_1 frame (tiles of one row) with noise and some NaNs, like an archive frame."""
    rng = np.random.default_rng(seed)
    data = rng.normal(500.0, 12.0, size=GOOD_SHAPE).astype(np.float32)
    data[5, :10] = np.nan
    hdu = fits.CompImageHDU(data, compression_type="RICE_1", quantize_method=1, dither_seed=7)
    if extname is not None:
        hdu.name = extname
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def _card_offset(raw: bytes, keyword: str, start: int = 2880) -> int:
    """Byte offset of the card ``keyword`` in the first header after ``start`` (the compressed HDU's)."""
    key = keyword.ljust(8).encode()
    for offset in range(start, len(raw), 80):
        if raw[offset:offset + 8] == key:
            return offset
    raise KeyError(keyword)


def with_card(path: Path, keyword: str, value: int) -> Path:
    """Overwrite the integer value of ``keyword`` in the stored (table) header of the compressed HDU."""
    raw = bytearray(path.read_bytes())
    offset = _card_offset(bytes(raw), keyword)
    raw[offset:offset + 80] = f"{keyword:<8}= {value:>20}".ljust(80).encode()
    path.write_bytes(bytes(raw))
    return path


def with_tile_descriptor(path: Path, tile: int, length: int, offset: int | None = None) -> Path:
    """Overwrite tile ``tile``'s COMPRESSED_DATA descriptor (length in bytes, heap offset)."""
    with fits.open(path, disable_image_compression=True) as hdul:
        table = hdul[1]
        info = hdul.fileinfo(1)
        row_bytes = int(table.header["NAXIS1"])
        column = next(i for i in range(1, int(table.header["TFIELDS"]) + 1)
                      if table.header[f"TTYPE{i}"] == "COMPRESSED_DATA")
        before = sum(_column_bytes(table.header[f"TFORM{i}"]) for i in range(1, column))
        wide = str(table.header[f"TFORM{column}"]).strip().lstrip("0123456789").startswith("Q")
    raw = bytearray(path.read_bytes())
    at = info["datLoc"] + tile * row_bytes + before
    dtype = ">i8" if wide else ">i4"
    current = np.frombuffer(bytes(raw[at:at + 2 * np.dtype(dtype).itemsize]), dtype=dtype)
    new = np.array([length, current[1] if offset is None else offset], dtype=dtype)
    raw[at:at + new.nbytes] = new.tobytes()
    path.write_bytes(bytes(raw))
    return path


def _column_bytes(tform: str) -> int:
    """Bytes of one table column from its TFORM (heap descriptors: two 4- or 8-byte integers)."""
    text = str(tform).strip()
    code = text.lstrip("0123456789")[0]
    repeat = int(text[:len(text) - len(text.lstrip("0123456789"))] or 1)
    return repeat * {"B": 1, "I": 2, "J": 4, "K": 8, "E": 4, "D": 8, "P": 8, "Q": 16}[code]


MALFORMED = {
    # the message after "Frame <name> ": a sentence for each kind of damage
    "negative ZDITHER0": (lambda path: with_card(path, "ZDITHER0", -5),
                          "has a malformed compressed image header: ZDITHER0 is -5, outside 1 to 10000."),
    "lying image size": (lambda path: with_card(path, "ZNAXIS2", 4100),
                         "has a malformed compressed image header: the image axes and tile sizes need 4100 "
                         "tiles but the table holds 41."),
    "truncated tile": (lambda path: with_tile_descriptor(path, 3, 6),
                       "is not a readable FITS file (truncated or corrupt)."),
    "tile outside the heap": (lambda path: with_tile_descriptor(path, 2, 100, offset=10**7),
                              "is not a readable FITS file (truncated or corrupt)."),
}
