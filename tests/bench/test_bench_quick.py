"""The benchmark command still runs end to end (on a tiny size; nothing here is timed)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from bench.__main__ import build_parser
from bench.data import DITHER_PIXELS, frame_path

ROOT = Path(__file__).resolve().parents[2]


PIPELINES = ["baseline", "ours", "floor", "baseline-sum", "stacking", "combine", "baseline-color", "color"]


def test_quick_benchmark_prints_the_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--runs", "1", "--settle", "0", "--data-dir", str(tmp_path), "run", "--quick",
         "--pipelines", ",".join(PIPELINES)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| 3x256 |")]
    assert [row[2].strip() for row in rows] == PIPELINES
    for row in rows:
        wall, cpu, rss = (float(cell) for cell in row[3:6])
        assert wall > 0 and cpu > 0 and rss > 0
        # Every pipeline but the baselines is compared with its own baseline.
        assert (row[7].strip() == "") == row[2].strip().startswith("baseline")
    assert [frame_path(tmp_path, (256, 256), index).exists() for index in range(4)] == [True, True, True, False]


def test_common_options_go_before_or_after_the_command():
    before = build_parser().parse_args(["--runs", "1", "--settle", "0", "run", "--quick"])
    after = build_parser().parse_args(["run", "--quick", "--runs", "1", "--settle", "0"])
    default = build_parser().parse_args(["scaling"])
    assert (before.runs, before.settle) == (1, 0.0)
    assert (after.runs, after.settle) == (1, 0.0)
    assert (default.runs, default.settle) == (3, 15.0)


def test_aligned_pipelines_run_on_dithered_frames_and_report_their_ratio(tmp_path):
    pipelines = ["ours", "median-aligned", "stacking-reproject", "color", "color-dithered"]
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--runs", "1", "--settle", "0", "--data-dir", str(tmp_path), "run", "--quick",
         "--pipelines", ",".join(pipelines)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| 3x256 |")]
    assert [row[2].strip() for row in rows] == pipelines
    notes = [line for line in result.stdout.splitlines() if line.startswith("3x256: ")]
    assert [note.split(" (")[0] for note in notes] == ["3x256: median-aligned", "3x256: stacking-reproject",
                                                       "3x256: color-dithered"]
    assert all(frame_path(tmp_path, (256, 256), index, dithered=True).exists() for index in range(3))
    with fits.open(frame_path(tmp_path, (256, 256), 1, dithered=True)) as dithered, \
            fits.open(frame_path(tmp_path, (256, 256), 1)) as undithered:
        # The second frame points ~10 pixels away from the first: its CRVAL moved by that much sky.
        moved = np.hypot((dithered["SCI"].header["CRVAL1"] - undithered["SCI"].header["CRVAL1"])
                         * np.cos(np.radians(undithered["SCI"].header["CRVAL2"])),
                         dithered["SCI"].header["CRVAL2"] - undithered["SCI"].header["CRVAL2"])
    assert moved * 3600 / 0.389 == pytest.approx(np.hypot(*DITHER_PIXELS[1]), rel=1e-6)
