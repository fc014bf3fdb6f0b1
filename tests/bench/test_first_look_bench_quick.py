"""The first-look benchmark runs end to end on a tiny frame, and its variants give the same answer."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.data import ensure_frames
from bench.first_look import VARIANTS

ROOT = Path(__file__).resolve().parents[2]


def test_first_look_prints_previous_ours_and_floor(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--runs", "1", "--settle", "0", "--data-dir", str(tmp_path), "first-look",
         "--side", "128", "--max-size", "32"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| 128x128 |")]
    assert [(row[2].strip(), row[3].strip()) for row in rows] == [("32", "previous"), ("32", "ours"), ("32", "floor")]
    assert all(float(row[4]) > 0 and float(row[7]) > 0 for row in rows)  # wall and CPU seconds
    assert rows[0][5].strip() == "1.0x" and rows[2][6].strip() == "1.0x"


@pytest.mark.parametrize("shape", [(96, 80), (80, 120)])  # partial cells (overlap weights); whole blocks
def test_previous_and_ours_answer_the_same(tmp_path, shape):
    frame = ensure_frames(1, shape, tmp_path / "frames")[0]
    answers = {}
    for variant in ("previous", "ours"):
        cache = tmp_path / variant
        cache.mkdir()
        answers[variant] = json.loads(VARIANTS[variant](frame, 40, cache))
    assert answers["ours"] == answers["previous"]
    assert len(answers["ours"]["data"]) == 40 * 40
