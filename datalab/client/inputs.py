"""Turning what a user has in hand (frames, outputs, basenames, dicts) into the items the API takes."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from datalab.client.records import Frame, Output, archive_item, basename_of

# Anything that names an image: an archive Frame, an operation's Output, an item dict as the API
# stores it, or a basename / file name ("ogg2m001-...-e91" or "ogg2m001-...-e91.fits.fz").
FileLike = Frame | Output | Mapping[str, Any] | str


def file_item(value: FileLike, known: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The input item for one image; a bare basename found in ``known`` takes that item.

    ``known`` maps basenames to items already in a session (its inputs and its operations'
    outputs), so ``"datalab-median-3-0-ab12cd34"`` becomes a reference to that output and a session
    input keeps the details it was added with; any other basename is an archive frame.
    """
    if isinstance(value, (Frame, Output)):
        return value.as_input()
    if isinstance(value, Mapping):
        if not value.get("basename"):
            raise ValueError(f"An input item needs a basename: {dict(value)!r}")
        return dict(value)
    if isinstance(value, str):
        basename = basename_of(value)
        if not basename:
            raise ValueError("An empty name cannot be an input file.")
        return dict((known or {}).get(basename) or archive_item(basename))
    raise TypeError(f"Cannot use a {type(value).__name__} as an input file; give a Frame, an Output, "
                    f"an item dict or a basename.")


def file_items(values: FileLike | Iterable[FileLike], known: Mapping[str, dict[str, Any]] | None = None,
               ) -> list[dict[str, Any]]:
    """Items for one image or many; duplicates (by source and basename) are kept once, in order."""
    if isinstance(values, (Frame, Output, Mapping, str)):
        values = [values]
    items: list[dict[str, Any]] = []
    seen: set[tuple[Any, str]] = set()
    for value in values:
        item = file_item(value, known)
        key = (item.get("source"), item["basename"])
        if key not in seen:
            seen.add(key)
            items.append(item)
    return items


def unknown_basenames(values: Any, known: Mapping[str, dict[str, Any]]) -> bool:
    """True when some bare basename among ``values`` is not among the ``known`` items."""
    names = [values] if isinstance(values, str) else values if isinstance(values, (list, tuple)) else []
    return any(isinstance(name, str) and basename_of(name) not in known for name in names)
