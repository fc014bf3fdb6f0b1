"""The client and its command line against the live test server, a real worker and the embedded archive."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from data_operations.registry import available_operations
from datalab.client import Datalab, DatalabError, OperationFailed
from tests.e2e.test_median_end_to_end import archive_pixels

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dl(live_server, token) -> Datalab:
    return Datalab(live_server.url, token, backoff=0.05)


def sci_pixels(path: Path) -> np.ndarray:
    with fits.open(path) as hdul:
        return hdul["SCI"].data.astype(np.float32)


def expected_median(basenames: list[str]) -> np.ndarray:
    return np.nanmedian(np.stack([archive_pixels(b) for b in basenames]), axis=0)


def test_walkthrough_in_python_with_progress_download_and_chaining(dl, archive_frames, start_worker, tmp_path):
    worker = start_worker()
    frames = dl.archive.search(target="M51", filter="rp")
    assert sorted(frame.basename for frame in frames) == sorted(archive_frames)
    assert {frame.filter for frame in frames} == {"rp"}
    assert dl.archive.search(filter="gp") == []

    session = dl.sessions.create("client walk-through", frames)
    assert [item["basename"] for item in session.input_data] == [frame.basename for frame in frames]
    assert session.input_data[0]["source"] == "archive" and session.input_data[0]["id"] == frames[0].id
    assert "input_files" in dl.operation("Median").inputs

    seen: list[tuple[float, str]] = []
    median = session.run("Median", input_files=frames, wait=True,
                         progress=lambda fraction, message: seen.append((fraction, message)))
    assert median.status == "COMPLETED", worker.log()[-3000:]
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and seen[-1] == (1.0, median.message)

    fits_path = median.outputs[0].download(tmp_path)
    assert fits_path == tmp_path / f"{median.outputs[0].basename}.fits"
    median_image = sci_pixels(fits_path)
    np.testing.assert_allclose(median_image, expected_median(archive_frames), rtol=1e-6, atol=1e-6)
    assert median.outputs[0].download(tmp_path, "large").read_bytes()[:2] == b"\xff\xd8"  # a JPEG

    # An earlier output named by its basename feeds the next operation.
    normalized = session.run("Normalization", input_files=median.outputs[0].basename, wait=True, progress=False)
    item = normalized.input_data["input_files"][0]
    assert (item["source"], item["operation"]) == ("datalab", median.id)
    np.testing.assert_allclose(sci_pixels(normalized.outputs[0].download(tmp_path)),
                               median_image / np.nanmedian(median_image), rtol=1e-5)

    assert [s.id for s in dl.sessions.list()] == [session.id]
    assert [op.id for op in dl.sessions.get(session.id).list_operations()] == [median.id, normalized.id]
    dl.sessions.delete(session.id)
    assert dl.sessions.list() == []


def test_a_failed_operation_raises_its_message_and_4xx_their_sentences(
        dl, live_server, archive_frames, start_worker, stranger_token):
    start_worker()
    session = dl.sessions.create("failures", archive_frames)
    with pytest.raises(OperationFailed) as failed:
        session.run("Median", input_files=[archive_frames[0], "tst1m001-missing-e91.fits.fz"], wait=True)
    assert failed.value.message == ("The archive could not find frame tst1m001-missing-e91, or it is not "
                                    "visible with your archive token.")
    assert failed.value.operation.status == "FAILED"
    assert session.operation(failed.value.operation.id).status == "FAILED"

    with pytest.raises(DatalabError) as too_few:
        session.run("Median", input_files=archive_frames[:1])
    assert too_few.value.status == 400
    assert too_few.value.message == "Median: 'input_files' needs at least 2 file(s); got 1."
    with pytest.raises(DatalabError) as misspelt:
        session.run("Medain", input_files=archive_frames)
    assert misspelt.value.message == ("Unknown operation 'Medain'. Available operations: "
                                      f"{', '.join(sorted(available_operations()))}.")
    assert "Color Image, Combine" in misspelt.value.message
    with pytest.raises(DatalabError) as not_yours:
        Datalab(live_server.url, stranger_token).sessions.get(session.id)
    assert (not_yours.value.status, not_yours.value.message) == (404, "Not found.")
    with pytest.raises(DatalabError) as bad_token:
        Datalab(live_server.url, "not-a-token").sessions.list()
    assert (bad_token.value.status, bad_token.value.message) == (401, "Invalid token.")


def datalab_cli(live_server, token: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATALAB_URL": live_server.url, "DATALAB_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "datalab.client", *args], cwd=PROJECT_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=180)


def test_command_line_walkthrough_with_json(live_server, token, archive_frames, start_worker, tmp_path):
    start_worker()
    listed = datalab_cli(live_server, token, "frames", "--target", "M51", "--filter", "rp", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(record["basename"] for record in json.loads(listed.stdout)) == sorted(archive_frames)

    created = datalab_cli(live_server, token, "--json", "sessions", "create", "cli", "-", stdin=listed.stdout)
    assert created.returncode == 0, created.stderr
    session = json.loads(created.stdout)
    assert sorted(item["basename"] for item in session["input_data"]) == sorted(archive_frames)

    ran = datalab_cli(live_server, token, "run", str(session["id"]), "Median", "input_files=all", "align=none",
                      "--wait", "--download", str(tmp_path), "--json")
    assert ran.returncode == 0, ran.stderr
    operation = json.loads(ran.stdout)
    assert (operation["status"], operation["input_data"]["align"]) == ("COMPLETED", "none")
    assert [entry["kind"] for entry in operation["downloaded"]] == ["fits"]
    np.testing.assert_allclose(sci_pixels(Path(operation["downloaded"][0]["path"])), expected_median(archive_frames),
                               rtol=1e-6, atol=1e-6)

    again = datalab_cli(live_server, token, "download", str(session["id"]), str(operation["id"]),
                        str(tmp_path / "again"), "--kind", "small", "--json")
    assert again.returncode == 0, again.stderr
    assert Path(json.loads(again.stdout)["downloaded"][0]["path"]).read_bytes()[:2] == b"\xff\xd8"

    table = datalab_cli(live_server, token, "sessions")
    assert table.stdout.splitlines()[1].split()[:4] == [str(session["id"]), "cli", "3", "1"]

    refused = datalab_cli(live_server, token, "run", str(session["id"]), "Median", f"input_files={archive_frames[0]}")
    assert refused.returncode == 1
    assert refused.stderr == "datalab: error: Median: 'input_files' needs at least 2 file(s); got 1. (HTTP 400)\n"
