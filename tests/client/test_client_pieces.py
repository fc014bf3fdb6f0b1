"""The client's pure parts: no Django on import, input items, command-line values, progress bars."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from datalab.client import Frame, Output
from datalab.client.cli import UsageError, parse_operation_inputs
from datalab.client.inputs import file_items
from datalab.client.progress import SilentProgress, TextProgress, progress_reporter
from datalab.client.records import OperationSpec
from datalab.client.sessions import Session

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MEDIAN = OperationSpec.from_description("Median", {
    "name": "Median", "description": "",
    "inputs": {"input_files": {"type": "fits", "minimum": 2}, "align": {"type": "select", "options": ["none", "wcs"]}},
})
COMBINE = OperationSpec.from_description("Combine", {
    "name": "Combine", "description": "",
    "inputs": {"input_files": {"type": "fits"}, "sigma_low": {"type": "float"}, "method": {"type": "select"}},
})


def test_importing_the_client_loads_neither_django_nor_numpy():
    code = ("import sys; import datalab.client; from datalab.client import Datalab; import datalab.client.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'numpy', 'astropy', 'rest_framework'}))")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


def a_session(**extra) -> Session:
    return Session.from_json({"id": 3, "name": "M51", "input_data": [
        {"type": "fits", "source": "archive", "basename": "ogg-0001-e91", "id": 11, "filter": "rp"},
        {"type": "fits", "source": "archive", "basename": "ogg-0002-e91", "id": 12, "filter": "rp"},
    ], "operations": [{"id": 5, "name": "Median", "status": "COMPLETED", "output": {"output_files": [
        {"basename": "datalab-median-5-0-abcd", "source": "datalab", "type": "fits", "operation": 5,
         "fits_url": "http://x/outputs/a/fits/?sig=1", "filter": "rp"}]}}], **extra}, client=None)


def test_basenames_become_the_session_items_outputs_or_archive_items_they_name():
    session = a_session()
    items = file_items(["ogg-0001-e91.fits.fz", "datalab-median-5-0-abcd", "dir/new-0003-e91.fits", "ogg-0001-e91"],
                       session.known_items())
    assert items == [
        {"type": "fits", "source": "archive", "basename": "ogg-0001-e91", "id": 11, "filter": "rp"},
        {"basename": "datalab-median-5-0-abcd", "source": "datalab", "type": "fits", "operation": 5, "filter": "rp"},
        {"type": "fits", "source": "archive", "basename": "new-0003-e91"},
    ]


def test_frames_and_outputs_make_the_items_the_front_end_sends():
    frame = Frame.from_record({"id": 4, "basename": "b-e91", "primary_optical_element": "rp", "target_name": "M51",
                               "observation_date": "2026-11-01T03:12:45Z", "url": "http://signed"})
    assert frame.as_input() == {"type": "fits", "source": "archive", "basename": "b-e91", "id": 4, "filter": "rp",
                                "target_name": "M51", "observation_date": "2026-11-01T03:12:45Z"}
    output = Output.from_entry({"basename": "datalab-x", "type": "fits", "small_url": "u"}, 9, None)
    assert output.as_input() == {"basename": "datalab-x", "type": "fits", "source": "datalab", "operation": 9}


def test_command_line_values_follow_the_operation_inputs():
    session = a_session()
    assert parse_operation_inputs(["input_files=all", "align=wcs"], MEDIAN, session) == {
        "input_files": session.input_data, "align": "wcs"}
    assert parse_operation_inputs(["input_files=a.fits, b.fits.fz"], MEDIAN, session) == {
        "input_files": ["a.fits", "b.fits.fz"]}
    assert parse_operation_inputs(['input_files=["a", {"source": "datalab", "basename": "d"}]'], MEDIAN, session) == {
        "input_files": ["a", {"source": "datalab", "basename": "d"}]}
    assert parse_operation_inputs(["sigma_low=2.5", "method=1", "extra=[1, 2]", "name=M51"], COMBINE, session) == {
        "sigma_low": 2.5, "method": "1", "extra": [1, 2], "name": "M51"}
    with pytest.raises(UsageError, match="^'high' is not a number.$"):
        parse_operation_inputs(["sigma_low=high"], COMBINE, session)
    with pytest.raises(UsageError, match="^Operation inputs are key=value, not 'align'.$"):
        parse_operation_inputs(["align"], MEDIAN, session)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_off_a_terminal_and_a_bar_on_one(monkeypatch):
    assert isinstance(progress_reporter(None, label="Median #1", stream=io.StringIO()), SilentProgress)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm not installed: the plain text bar
    terminal = Terminal()
    bar = progress_reporter(None, label="Median #1", stream=terminal)
    assert isinstance(bar, TextProgress)
    bar.update(0.0, "pending")
    bar.update(0.5, "Combining.")
    bar.update(1.0, "Completed in 1.1 s.")
    bar.close()
    lines = terminal.getvalue().split("\r")
    assert lines[1].rstrip() == "Median #1 [........................]   0% pending"
    assert lines[2].rstrip() == "Median #1 [############............]  50% Combining."
    assert lines[3] == "Median #1 [########################] 100% Completed in 1.1 s.\n"


def test_progress_uses_tqdm_when_it_is_installed():
    pytest.importorskip("tqdm")
    terminal = Terminal()
    bar = progress_reporter(True, label="Median #1", stream=terminal)
    bar.update(0.42, "Combining band 3 of 8.")
    bar.close()
    assert " 42%|" in terminal.getvalue() and "Combining band 3 of 8." in terminal.getvalue()


def test_a_callable_receives_every_update():
    seen: list[tuple[float, str]] = []
    reporter = progress_reporter(lambda fraction, message: seen.append((fraction, message)), label="x")
    reporter.update(0.25, "Fetching input 1 of 4.")
    assert seen == [(0.25, "Fetching input 1 of 4.")]
