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
