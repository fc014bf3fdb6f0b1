"""Output headers: what every product records besides its pixels.

The product's ``SCI`` header starts from the first input's WCS and observation keywords
(``build_output_header``), adds the operation's own keywords, and notes a crop to the common
region both as ``DLCROP`` and as a ``HISTORY`` line. Provenance (operation, parameters, inputs,
version) is added by the product writer from the context.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from astropy.io import fits

from data_operations.products import build_output_header

Keywords = Mapping[str, tuple[Any, str]]
# Infinite input pixels are read as missing (NaN) everywhere; products count them here.
INFINITE_KEYWORD = "DLNINF"
INFINITE_COMMENT = "Infinite input pixels read as missing (NaN)"


def output_header(first_input: fits.Header, keywords: Keywords = {}) -> fits.Header:  # noqa: B006 - read only
    """The product header: WCS and observation keywords of ``first_input`` plus ``keywords``."""
    header = build_output_header(first_input)
    for keyword, (value, comment) in keywords.items():
        header[keyword] = (value, comment)
    return header


def note_crop(header: fits.Header, shape: tuple[int, int], product_noun: str) -> str:
    """Record in ``header`` that inputs were cropped to their common region; return the user's warning."""
    ny, nx = shape
    note = (f"The input frames differ in size; the {product_noun} covers their common region of {nx}x{ny} "
            "pixels from the origin.")
    header["DLCROP"] = (True, "Inputs cropped to common region")
    header.add_history(note)
    return note


def infinite_note(count: int) -> str:
    """The user's warning when inputs held infinite pixels (they were treated as missing)."""
    return (f"{count} input pixel{'s were' if count != 1 else ' was'} infinite and treated as missing (NaN), "
            f"like blank pixels; {INFINITE_KEYWORD} in the header records the count.")
