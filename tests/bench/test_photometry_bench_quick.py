"""The photometry benchmark still runs end to end on tiny sizes (nothing here is timed)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_photometry_benchmark_prints_its_table(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.photometry_bench", "--quick", "--data-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row[0].split(",")[0].strip() for row in rows] == ["aperture", "aperture", "variable star",
                                                              "once per worker process", "output JSON"]
    for row in rows:
        assert float(row[2]) > 0
    assert float(rows[-1][2]) < 3.0
