"""The throughput benchmark's plumbing: the real service starts, users' operations complete, the
report adds up (tiny frames, one operation per phase; nothing here is timed against a target)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.throughput import PairReport, PhaseReport, Timing, busy_wait_s, format_report, summarise

ROOT = Path(__file__).resolve().parents[2]


def timing(created: float, started: float, finished: float, phase: str = "p") -> Timing:
    return Timing(phase=phase, user=0, submitted=created - 0.01, seen=finished + 0.05, created=created,
                  started=started, finished=finished)


def test_waiting_counts_only_while_every_worker_thread_runs_another_operation():
    waiting = timing(0.0, 5.0, 6.0)
    others = [timing(-1.0, -1.0, 2.0), timing(-1.0, 1.0, 3.0), timing(0.5, 3.5, 4.5)]
    # Two others run at once only during [1, 2); at least one during [0, 3) and [3.5, 4.5).
    assert busy_wait_s(waiting, [waiting, *others]) == pytest.approx(1.0)
    assert busy_wait_s(waiting, [waiting, *others], threads=1) == pytest.approx(3.0 + 1.0)


def test_a_phase_summary_splits_total_into_pipeline_and_overhead():
    first, second = timing(0.0, 0.1, 0.5), timing(0.2, 0.5, 1.2)
    report = summarise("2 user(s)", 2, [first, second], [first, second])
    assert (report.operations, report.users) == (2, 2)
    assert report.pipeline_s == pytest.approx((0.4 + 0.7) / 2)
    assert report.total_s == pytest.approx((0.5 + 1.0) / 2)
    assert report.overhead_s == pytest.approx((0.1 + 0.3) / 2) and report.overhead_max_s == pytest.approx(0.3)
    assert report.busy_s == 0.0 and report.service_overhead_s == pytest.approx(report.overhead_s)
    # Two operations from the first POST (-0.01) to the last poll seeing COMPLETED (1.25).
    assert report.per_minute == pytest.approx(60 * 2 / 1.26)
    assert summarise("alone", 1, [first], [first], rate=False).per_minute is None


@pytest.mark.e2e
def test_throughput_drives_the_real_service_and_reports_every_phase(tmp_path):
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "throughput", "--users", "1,2", "--operations", "1", "--pairs", "1",
         "--pause", "0", "--poll", "0.05", "--demo-size", "64", "--json", str(report_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    phases = [PhaseReport(**phase) for phase in report["phases"]]
    assert [(p.phase, p.users, p.operations) for p in phases] == [
        ("alone (after a pause)", 1, 1), ("two at once (after a pause)", 2, 2), ("1 user(s)", 1, 1),
        ("2 user(s)", 2, 2)]
    assert [p.per_minute is None for p in phases] == [True, True, False, False]
    assert all(p.per_minute > 0 for p in phases[2:])
    operations = [Timing(**operation) for operation in report["operations"]]
    assert len(operations) == 6 and {o.user for o in operations} == {0, 1}
    for operation in operations:
        assert operation.submitted <= operation.created + 0.5  # one clock: the client's and the service's
        assert operation.created <= operation.started < operation.finished <= operation.seen + 0.5
        assert operation.overhead_s == pytest.approx(operation.started - operation.created)
    for phase in phases:
        assert 0 <= phase.service_overhead_s <= phase.overhead_s <= phase.overhead_max_s
    pair = PairReport(alone_s=report["pair"]["alone_s"], pair_s=report["pair"]["pair_s"])
    assert report["pair"]["ratio"] == pytest.approx(pair.pair_s / pair.alone_s) and pair.alone_s > 0
    assert result.stdout.strip() == format_report(phases, pair)
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 4 and rows[2].startswith("| alone (after a pause) | 1 | 1 |  | ")
