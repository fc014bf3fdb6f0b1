"""Fetching an operation's input files: local paths for the items of one input, with progress."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_operations.context import OperationContext
from data_operations.framework.progress import ProgressReport


@dataclass(frozen=True)
class FetchedFiles:
    """The items of one ``fits`` input as sent, their local paths and basenames, in order."""

    items: list[dict[str, Any]]
    paths: list[Path]
    basenames: list[str]


def fetch_files(context: OperationContext, items: list[dict[str, Any]], report: ProgressReport, *,
                label: str = "input") -> FetchedFiles:
    """Ask the context for each item's file, reporting one step per file."""
    paths = []
    for position, item in enumerate(items):
        report(position / len(items), f"Fetching {label} {position + 1} of {len(items)}.")
        paths.append(context.input_path(item))
    return FetchedFiles(items=list(items), paths=paths, basenames=[item["basename"] for item in items])
