"""The benchmark command still runs end to end (on a tiny size; nothing here is timed)."""
import subprocess
import sys
from pathlib import Path

from bench.data import frame_path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_prints_the_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--runs", "1", "--settle", "0", "--data-dir", str(tmp_path), "run", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 3x256 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["baseline", "ours", "floor"]
    for row in rows:
        wall, cpu, rss = (float(cell) for cell in row.split("|")[3:6])
        assert wall > 0 and cpu > 0 and rss > 0
    assert [frame_path(tmp_path, (256, 256), index).exists() for index in range(4)] == [True, True, True, False]
