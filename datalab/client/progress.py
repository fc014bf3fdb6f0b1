"""Progress display while an operation runs, fed by its ``operation_progress`` and ``message``.

On a terminal it is a tqdm bar when tqdm is installed (``pip install 'datalab[progress]'``), else a
one-line text bar; anywhere else (a pipe, a log file, a notebook cell's captured output) it is
silent unless asked for. A callable may be given instead, to route progress elsewhere.
"""
from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import IO, Protocol

ProgressCallback = Callable[[float, str], None]
ProgressChoice = bool | ProgressCallback | None


class ProgressReporter(Protocol):
    def update(self, fraction: float, message: str) -> None: ...

    def close(self) -> None: ...


class SilentProgress:
    def update(self, fraction: float, message: str) -> None:
        pass

    def close(self) -> None:
        pass


class CallbackProgress:
    """Hands every update to a function of (fraction 0..1, message)."""

    def __init__(self, callback: ProgressCallback) -> None:
        self.callback = callback

    def update(self, fraction: float, message: str) -> None:
        self.callback(fraction, message)

    def close(self) -> None:
        pass


class TextProgress:
    """A single self-overwriting line: ``Median [#########...........]  45% Combining band 3 of 8.``"""

    WIDTH = 24

    def __init__(self, label: str, stream: IO[str]) -> None:
        self.label = label
        self.stream = stream
        self.shown = ""

    def update(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(fraction * self.WIDTH)
        line = f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} {message}".rstrip()
        line = line[: max(20, shutil.get_terminal_size().columns - 1)]
        if line != self.shown:
            self.stream.write("\r" + line.ljust(len(self.shown)))
            self.stream.flush()
            self.shown = line

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class TqdmProgress:
    """A tqdm bar counting percent, with the operation's message after it."""

    def __init__(self, label: str, stream: IO[str]) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]  # optional, and without type stubs

        self.bar = tqdm(total=100, desc=label, file=stream, leave=True,
                        bar_format="{desc}: {percentage:3.0f}%|{bar:24}| {elapsed}{postfix}")

    def update(self, fraction: float, message: str) -> None:
        self.bar.n = round(min(max(fraction, 0.0), 1.0) * 100, 1)
        self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def terminal_bar(label: str, stream: IO[str]) -> ProgressReporter:
    try:
        return TqdmProgress(label, stream)
    except ImportError:
        return TextProgress(label, stream)


def progress_reporter(choice: ProgressChoice, *, label: str, stream: IO[str] | None = None) -> ProgressReporter:
    """The reporter for ``choice``: None shows a bar only on a terminal, True always, False never."""
    stream = stream if stream is not None else sys.stderr
    if callable(choice):
        return CallbackProgress(choice)
    if choice is None:
        choice = bool(getattr(stream, "isatty", lambda: False)())
    return terminal_bar(label, stream) if choice else SilentProgress()
