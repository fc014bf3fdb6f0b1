"""Writing an operation's FITS product: empty primary + lossless tile-compressed ``SCI`` image.

Float images are written with ``GZIP_2`` and ``quantize_level=0.0``: no quantisation, so every
float32 value (NaN and infinities included) reads back bit for bit, which later operations and the
end-to-end checks rely on. (``RICE_1`` on floats always quantises, i.e. is lossy.) Integer images
use ``RICE_1``, lossless for integers.

Float32 images (every combined product) go through :class:`CompressedImageWriter`, which writes the
same layout with fast multi-threaded compression and can take the image band by band while it is
still being computed (:func:`open_output_fits`); other types use astropy's writer.

Provenance goes into the ``SCI`` header as short keywords (``DLOPER``, ``DLOPID``, ``DLVERS``,
``DLNIN`` and ``DLIN0001``...) plus ``HISTORY`` lines for anything long (parameters as JSON).
"""
from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from data_operations.products.compressed_writer import CompressedImageWriter

SCI_EXTENSION = "SCI"
LOSSLESS_FLOAT_COMPRESSION = {"compression_type": "GZIP_2", "quantize_level": 0.0}
LOSSLESS_INTEGER_COMPRESSION = {"compression_type": "RICE_1"}

# Observation keywords worth carrying from the first input to the product.
COMMON_KEYWORDS = ("FILTER", "OBJECT", "DATE-OBS", "MJD-OBS", "EXPTIME", "SITEID", "TELID", "INSTRUME",
                   "PIXSCALE")
_WCS_KEYWORD = re.compile(
    r"^(WCSAXES|WCSNAME|RADESYS|RADECSYS|EQUINOX|EPOCH|LONPOLE|LATPOLE|MJDREF|DATEREF"
    r"|CTYPE\d|CRPIX\d|CRVAL\d|CDELT\d|CUNIT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|PS\d_\d+"
    r"|(A|B|AP|BP)_ORDER|(A|B|AP|BP)_\d+_\d+|(A|B)_DMAX)$"
)
# Keywords that describe an HDU's layout or scaling: astropy writes them itself, and a stray
# BSCALE/BZERO would rescale our float data on write.
_STRUCTURAL_KEYWORD = re.compile(
    r"^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|BSCALE|BZERO|BLANK|EXTNAME|EXTVER"
    r"|CHECKSUM|DATASUM|Z\w+|TFIELDS|TTYPE\d+|TFORM\d+)$"
)
# Header metadata that the output_files entry reports when every input agrees on it.
SHARED_METADATA_KEYWORDS = {"filter": "FILTER", "target_name": "OBJECT"}
MAX_VALUE_CHARS = 68  # a string card's value must fit in one 80-character card


# --- headers ------------------------------------------------------------------------------------
def build_output_header(source: fits.Header) -> fits.Header:
    """WCS and common observation keywords copied from ``source`` (the first input's SCI header)."""
    header = fits.Header()
    for card in source.cards:
        keyword = card.keyword
        if keyword in COMMON_KEYWORDS or _WCS_KEYWORD.match(keyword):
            header[keyword] = (card.value, card.comment)
    return header


def agreed_value(headers: Iterable[fits.Header], keyword: str) -> str | None:
    """The value of ``keyword`` if every header has the same non-empty one, else None."""
    values = set()
    for header in headers:
        value = header.get(keyword)
        if value is None or str(value).strip() == "":
            return None
        values.add(str(value).strip())
    return values.pop() if len(values) == 1 else None


def shared_metadata(headers: Sequence[fits.Header]) -> dict[str, str]:
    """``filter`` / ``target_name`` that all inputs agree on; keys without agreement are omitted."""
    found = {key: agreed_value(headers, keyword) for key, keyword in SHARED_METADATA_KEYWORDS.items()}
    return {key: value for key, value in found.items() if value is not None}


def _ascii(text: Any) -> str:
    """FITS header text may hold printable ASCII only."""
    return "".join(char if " " <= char <= "~" else "?" for char in str(text))


def _set_short(header: fits.Header, keyword: str, value: Any, comment: str) -> None:
    """A keyword card when the value fits in one card, a HISTORY line otherwise."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float)):
        header[keyword] = (value, comment)
        return
    text = _ascii(value)
    quoted_length = max(8, len(text.replace("'", "''"))) + 2
    if quoted_length > MAX_VALUE_CHARS + 2:
        header.add_history(f"{keyword}= {text}")
        return
    # "KEYWORD = " is 10 characters and " / " 3: drop the comment rather than let astropy cut it.
    fits_in_card = 10 + quoted_length + 3 + len(comment) <= 80
    header[keyword] = (text, comment if fits_in_card else "")


def add_provenance(header: fits.Header, provenance: dict[str, Any]) -> None:
    """Record who made this product and from what, using only valid (ASCII, one-card) FITS cards.

    Known keys: ``operation``, ``operation_id``, ``software_version``, ``inputs`` (basenames) and
    ``parameters`` (a dict, written as JSON); any other key becomes a ``HISTORY`` line.
    """
    remaining = dict(provenance)
    if remaining.get("operation") is not None:
        _set_short(header, "DLOPER", remaining.pop("operation"), "Datalab operation")
    if remaining.get("operation_id") is not None:
        _set_short(header, "DLOPID", remaining.pop("operation_id"), "Datalab operation id")
    if remaining.get("software_version") is not None:
        _set_short(header, "DLVERS", remaining.pop("software_version"), "Datalab software version")
    inputs = list(remaining.pop("inputs", None) or [])
    if inputs:
        header["DLNIN"] = (len(inputs), "Number of input frames")
        for position, basename in enumerate(inputs, start=1):
            keyword = f"DLIN{position:04d}" if position <= 9999 else None
            if keyword is None:
                header.add_history(f"input {position}: {_ascii(basename)}")
            else:
                _set_short(header, keyword, basename, "Input frame")
    parameters = remaining.pop("parameters", None)
    if parameters:
        header.add_history("Datalab parameters: " + json.dumps(parameters, sort_keys=True, default=str))
    for key, value in remaining.items():
        if value is not None:
            header.add_history(f"Datalab {_ascii(key)}: " + json.dumps(value, sort_keys=True, default=str))


# --- writing -------------------------------------------------------------------------------------
def _compression_for(data: np.ndarray) -> dict[str, Any]:
    if np.issubdtype(data.dtype, np.floating):
        return LOSSLESS_FLOAT_COMPRESSION
    return LOSSLESS_INTEGER_COMPRESSION


def _product_header(header: fits.Header, provenance: dict) -> fits.Header:
    sci_header = fits.Header(
        [card for card in header.cards if not _STRUCTURAL_KEYWORD.match(card.keyword)]
    )
    add_provenance(sci_header, provenance)
    return sci_header


WRITE_BAND_ROWS = 256  # rows handed to the compressor threads at a time


def open_output_fits(path: Path, shape: tuple[int, int], header: fits.Header, *,
                     provenance: dict) -> CompressedImageWriter:
    """A writer that takes a float32 product band by band (``write_rows``) while it is computed.

    Compression runs on threads as bands arrive; ``close()`` finishes the file atomically. Use it
    as a context manager so a failure removes the temporary file.
    """
    return CompressedImageWriter(path, shape, _product_header(header, provenance), extname=SCI_EXTENSION)


def write_output_fits(path: Path, data: np.ndarray, header: fits.Header, *, provenance: dict) -> None:
    """Write ``data`` losslessly to ``path`` as empty primary + compressed ``SCI``, atomically.

    The file appears under its final name only once complete (temp name in the same directory,
    then ``os.replace``), so a crash never leaves a half-written product behind.
    """
    path = Path(path)
    if data.ndim != 2:
        raise ValueError(f"data must be a 2-D image; got shape {data.shape}.")
    if data.dtype == np.float32 and data.size:
        with open_output_fits(path, data.shape, header, provenance=provenance) as writer:
            for y0 in range(0, data.shape[0], WRITE_BAND_ROWS):
                writer.write_rows(y0, data[y0:y0 + WRITE_BAND_ROWS])
            writer.close()
        return
    sci_header = _product_header(header, provenance)
    sci = fits.CompImageHDU(data=data, header=sci_header, name=SCI_EXTENSION, **_compression_for(data))
    hdul = fits.HDUList([fits.PrimaryHDU(), sci])
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        hdul.writeto(temporary, checksum=True, output_verify="exception")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
