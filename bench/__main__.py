"""Benchmark of the Median pipeline against a reference-style baseline and the decode+write floor.

    python -m bench run --size 10x4096 --size 30x3072x2048 --runs 3   # options go before or after the command
    python -m bench run --quick                    # a tiny size, as CI runs it
    python -m bench scaling --side 2048 --frames 2,10,50,100,200
    python -m bench run --size 10x4096 --pipelines ours,median-aligned,stacking-reproject,color,color-dithered
    python -m bench warm --size 10x4096            # Median in a warm process, as a worker runs it
    python -m bench first-look --side 4096         # first raw-data on an uncached frame (bench/first_look.py)
    python -m bench throughput --users 1,2,4       # users submitting operations to the real service

A size is ``NxSIDE`` (N frames of SIDE x SIDE) or ``NxWIDTHxHEIGHT``. Frames come from the project's
synthetic generator and are cached under ``--data-dir`` (default ``var/bench``). Every run is a
fresh process; the table shows the median over runs and the ratios baseline/ours from the same
invocation. See ``bench/measure.py`` for how time and memory are measured.

Runs of the pipelines alternate (baseline, ours, floor, baseline, ...) and each starts after
``--settle`` seconds of idle machine (default 15). On virtual machines memory that was freed a few
seconds ago is handed back to the host, and touching it again costs ~3 s per GiB; a worker picks
up an operation after being idle, so by default every run starts from that state instead of from
memory a previous run just warmed. ``--settle 0`` measures back-to-back runs instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.data import DEFAULT_DATA_DIR, ensure_frames
from bench.measure import Measurement, run_measured
from bench.pipelines import DITHERED_PIPELINES

QUICK_SIZE = "3x256"
BASELINE_OF = {"stacking": "baseline-sum", "color": "baseline-color", "stacking-reproject": "baseline-sum",
               "color-dithered": "baseline-color"}


def parse_size(text: str) -> tuple[int, tuple[int, int]]:
    """``"10x4096"`` → (10, (4096, 4096)); ``"30x3072x2048"`` → (30, (2048, 3072)) as (ny, nx)."""
    parts = [int(part) for part in text.lower().split("x")]
    if len(parts) == 2:
        return parts[0], (parts[1], parts[1])
    if len(parts) == 3:
        return parts[0], (parts[2], parts[1])
    raise argparse.ArgumentTypeError(f"size must be NxSIDE or NxWIDTHxHEIGHT, not {text!r}")


def _run_once(pipeline: str, paths: list[Path], settle_s: float) -> Measurement:
    time.sleep(settle_s)
    with tempfile.TemporaryDirectory(prefix="bench-out-") as out_dir:
        return run_measured([sys.executable, "-m", "bench.child", pipeline, out_dir, *map(str, paths)])


def _median_of(results: list[Measurement]) -> Measurement:
    """Each metric's own median over the runs."""
    return Measurement(
        wall_s=statistics.median(result.wall_s for result in results),
        cpu_s=statistics.median(result.cpu_s for result in results),
        peak_rss_mib=statistics.median(result.peak_rss_mib for result in results),
        peak_pss_mib=statistics.median(result.peak_pss_mib for result in results),
    )


def measure_pipelines(pipelines: list[str], paths: list[Path] | dict[str, list[Path]], runs: int, settle_s: float,
                      label: str) -> dict[str, Measurement]:
    """Median over ``runs`` fresh-process runs of each pipeline, the pipelines taking turns.

    ``paths`` is one list of frames for all, or each pipeline's own list.
    """
    results: dict[str, list[Measurement]] = {pipeline: [] for pipeline in pipelines}
    for run in range(runs):
        for pipeline in pipelines:
            print(f"{label}: {pipeline} run {run + 1}/{runs} ...", file=sys.stderr, flush=True)
            frames = paths[pipeline] if isinstance(paths, dict) else paths
            results[pipeline].append(_run_once(pipeline, frames, settle_s))
    return {pipeline: _median_of(measured) for pipeline, measured in results.items()}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def command_run(args: argparse.Namespace) -> None:
    sizes = [QUICK_SIZE] if args.quick else (args.size or ["10x4096"])
    pipelines = args.pipelines.split(",")
    lines = [_row(["size", "pipeline", "wall s", "CPU s", "peak RSS MiB", "peak PSS MiB",
                   "wall baseline/this", "RSS baseline/this"]),
             _row(["---"] * 8)]
    notes: list[str] = []
    for size in sizes:
        count, shape = parse_size(size)
        paths = {pipeline: ensure_frames(count, shape, args.data_dir, dithered=pipeline in DITHERED_PIPELINES)
                 for pipeline in pipelines}
        measured = measure_pipelines(pipelines, paths, args.runs, args.settle, size)
        for pipeline, result in measured.items():
            # Sums are compared with the reference's sum, colour with its RGB stack, the rest with its median.
            baseline = measured.get(BASELINE_OF.get(pipeline, "baseline"))
            ratios = ["", ""]
            if baseline is not None and not pipeline.startswith("baseline"):
                ratios = [f"{baseline.wall_s / result.wall_s:.1f}x",
                          f"{baseline.peak_rss_mib / result.peak_rss_mib:.1f}x"]
            lines.append(_row([size, pipeline, f"{result.wall_s:.2f}", f"{result.cpu_s:.2f}",
                               f"{result.peak_rss_mib:.0f}", f"{result.peak_pss_mib:.0f}", *ratios]))
        if "floor" in measured and "ours" in measured:
            print(f"{size}: ours / floor wall = {measured['ours'].wall_s / measured['floor'].wall_s:.2f}",
                  file=sys.stderr)
        for pipeline, reference in DITHERED_PIPELINES.items():
            if pipeline in measured and reference in measured:
                notes.append(f"{size}: {pipeline} (dithered) / {reference} (undithered): wall "
                             f"{measured[pipeline].wall_s / measured[reference].wall_s:.2f}x, peak RSS "
                             f"{measured[pipeline].peak_rss_mib:.0f} MiB")
    print("\n".join(lines + ([""] if notes else []) + notes))


def command_scaling(args: argparse.Namespace) -> None:
    counts = [int(value) for value in args.frames.split(",")]
    shape = (args.side, args.side)
    paths = ensure_frames(max(counts), shape, args.data_dir)
    lines = [_row(["frames", "wall s", "CPU s", "peak RSS MiB", "peak PSS MiB"]), _row(["---"] * 5)]
    walls = []
    for count in counts:
        result = measure_pipelines(["ours"], paths[:count], args.runs, args.settle, f"{count}x{args.side}")["ours"]
        walls.append(result.wall_s)
        lines.append(_row([str(count), f"{result.wall_s:.2f}", f"{result.cpu_s:.2f}",
                           f"{result.peak_rss_mib:.0f}", f"{result.peak_pss_mib:.0f}"]))
    print("\n".join(lines))
    if len(counts) > 1:
        slope, intercept = np.polyfit(counts, walls, 1)
        print(f"fitted wall time = {intercept:.2f} s + {slope * 1000:.0f} ms per {args.side}x{args.side} frame")


def command_warm(args: argparse.Namespace) -> None:
    """Median cold (a fresh process per run) beside warm (later runs in one process, as a worker)."""
    count, shape = parse_size(args.size)
    paths = ensure_frames(count, shape, args.data_dir)
    cold = measure_pipelines(["ours"], paths, args.runs, args.settle, f"{args.size} cold")["ours"]
    print(f"{args.size} warm: {args.runs} runs in one process ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-out-") as out_dir:
        output = subprocess.run([sys.executable, "-m", "bench.warm", str(args.runs), out_dir, *map(str, paths)],
                                check=True, capture_output=True, text=True).stdout
    warm = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    lines = [_row(["size", "Median", "wall s", "CPU s", "peak RSS MiB"]), _row(["---"] * 5),
             _row([args.size, "cold (fresh process)", f"{cold.wall_s:.2f}", f"{cold.cpu_s:.2f}",
                   f"{cold.peak_rss_mib:.0f}"]),
             _row([args.size, "warm (same process)", f"{statistics.median(run['wall_s'] for run in warm):.2f}",
                   f"{statistics.median(run['cpu_s'] for run in warm):.2f}",
                   f"{max(run['peak_rss_mib'] for run in warm):.0f}"])]
    print("\n".join(lines))


def command_first_look(args: argparse.Namespace) -> None:
    """First raw-data on an uncached frame: ours, the previous path and the decode floor, taking turns."""
    shape = (args.side, args.side)
    frame = ensure_frames(1, shape, args.data_dir)[0]
    variants = ["previous", "ours", "floor"]
    walls: dict[str, list[float]] = {variant: [] for variant in variants}
    cpus: dict[str, list[float]] = {variant: [] for variant in variants}
    answer_bytes: dict[str, int] = {}
    for run in range(args.runs):
        for variant in variants:
            print(f"first-look {args.side}: {variant} run {run + 1}/{args.runs} ...", file=sys.stderr, flush=True)
            time.sleep(args.settle)
            with tempfile.TemporaryDirectory(prefix="bench-first-look-") as cache_dir:
                output = subprocess.run([sys.executable, "-m", "bench.first_look", variant, str(frame),
                                         str(args.max_size), cache_dir], check=True, capture_output=True,
                                        text=True).stdout
            result = json.loads(output.splitlines()[-1])
            walls[variant].append(result["wall_s"])
            cpus[variant].append(result["cpu_s"])
            answer_bytes[variant] = result["bytes"]
    median = {variant: statistics.median(values) for variant, values in walls.items()}
    lines = [_row(["frame", "max_size", "variant", "first raw-data s", "previous/this", "this/floor", "CPU s"]),
             _row(["---"] * 7)]
    for variant in variants:
        lines.append(_row([f"{args.side}x{args.side}", str(args.max_size), variant, f"{median[variant]:.3f}",
                           f"{median['previous'] / median[variant]:.1f}x",
                           f"{median[variant] / median['floor']:.1f}x",
                           f"{statistics.median(cpus[variant]):.3f}"]))
    if answer_bytes["ours"] <= 0 or answer_bytes["previous"] <= 0:
        raise SystemExit("a variant returned an empty answer")
    print("\n".join(lines))


def command_throughput(args: argparse.Namespace) -> None:
    """The real service (bench/service.py) driven by users over HTTP (bench/throughput.py)."""
    from bench.service import running_service
    from bench.throughput import format_report, measure

    user_counts = [int(value) for value in args.users.split(",")]
    if args.pairs < 1 or args.operations < 1 or min(user_counts) < 1:
        raise SystemExit("--pairs, --operations and every number of --users must be at least 1")
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        raise SystemExit("throughput needs DATABASE_URL (PostgreSQL) and REDIS_URL: it starts the real service")
    extra_env = dict(setting.split("=", 1) for setting in args.set)
    with running_service(users=max(2, *user_counts), database_url=database_url, redis_url=redis_url,
                         demo_size=args.demo_size, extra_env=extra_env, keep_logs=args.logs) as service:
        reports, pair, timings = measure(service, user_counts=user_counts, operations=args.operations,
                                         pairs=args.pairs, think_s=args.think, pause_s=args.pause, poll_s=args.poll)
    print(format_report(reports, pair))
    if args.json is not None:
        args.json.write_text(json.dumps({"phases": [dataclasses.asdict(report) for report in reports],
                                         "pair": {**dataclasses.asdict(pair), "ratio": pair.ratio},
                                         "operations": [dataclasses.asdict(timing) for timing in timings]}, indent=1))


def _add_common_options(parser: argparse.ArgumentParser, with_defaults: bool) -> None:
    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    parser.add_argument("--data-dir", type=Path, default=default(DEFAULT_DATA_DIR),
                        help="frame cache directory")
    parser.add_argument("--runs", type=int, default=default(3),
                        help="fresh-process runs per measurement (median)")
    parser.add_argument("--settle", type=float, default=default(15.0),
                        help="idle seconds before each run, so it starts on cold memory (0: back to back)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common_options(parser, with_defaults=True)
    # The same options after the command name too (``run --runs 1``); there they only override.
    common = argparse.ArgumentParser(add_help=False)
    _add_common_options(common, with_defaults=False)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", parents=[common], help="ours vs baseline vs floor for given sizes")
    run.add_argument("--size", action="append", help="NxSIDE or NxWIDTHxHEIGHT; repeatable")
    run.add_argument("--quick", action="store_true", help=f"one tiny size ({QUICK_SIZE}), for CI")
    run.add_argument("--pipelines", default="baseline,ours,floor")
    run.set_defaults(handler=command_run)
    scaling = commands.add_parser("scaling", parents=[common],
                                  help="time and memory of ours against the number of frames")
    scaling.add_argument("--side", type=int, default=2048)
    scaling.add_argument("--frames", default="2,10,50,100,200")
    scaling.set_defaults(handler=command_scaling)
    warm = commands.add_parser("warm", parents=[common], help="Median cold vs warm (a worker's later operations)")
    warm.add_argument("--size", default="10x4096", help="NxSIDE or NxWIDTHxHEIGHT")
    warm.set_defaults(handler=command_warm)
    first_look = commands.add_parser("first-look", parents=[common],
                                     help="first raw-data on an uncached frame: ours vs previous vs decode floor")
    first_look.add_argument("--side", type=int, default=4096)
    first_look.add_argument("--max-size", type=int, default=1024)
    first_look.set_defaults(handler=command_first_look)
    throughput = commands.add_parser(
        "throughput", parents=[common],
        help="users submitting Median operations to the real service (web + worker) over HTTP")
    throughput.add_argument("--users", default="1,2,4", help="numbers of concurrent users, comma-separated")
    throughput.add_argument("--operations", type=int, default=5, help="operations per user per phase")
    throughput.add_argument("--pairs", type=int, default=3, help="trials of one operation alone vs two at once")
    throughput.add_argument("--think", type=float, default=0.0, help="seconds a user waits between operations")
    throughput.add_argument("--pause", type=float, default=2.0,
                            help="idle seconds before each trial and phase (the worker waits for work)")
    throughput.add_argument("--poll", type=float, default=0.2, help="seconds between a user's status polls")
    throughput.add_argument("--demo-size", type=int, default=1024, help="side of the demo frames in pixels")
    throughput.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                            help="an environment setting for both roles (repeatable)")
    throughput.add_argument("--logs", type=Path, default=None, help="copy the roles' logs to this directory")
    throughput.add_argument("--json", type=Path, default=None,
                            help="also write the phases, the pair trials and every operation's times here")
    throughput.set_defaults(handler=command_throughput)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
