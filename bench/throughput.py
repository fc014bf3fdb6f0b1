"""Users submitting small operations to the running service over HTTP, and where each one's time went.

Each simulated user has its own account and token, and does what the front end does: create a
data session with the frames, create a Median on it, poll the operation until it is COMPLETED.
A user's identical requests would reuse the first one's result, so each operation takes another
ordered choice of three of the demo field's frames, all in the frame cache after the warm-up.
Per operation the service's own records give the split (all on this machine's clock):

- ``pipeline``: ``finished_at - started_at``, which the worker records from claiming the
  operation to writing its outcome (frames fetched from the frame cache, combined, products
  published);
- ``total``: ``finished_at - created``, from the API creating it to COMPLETED;
- ``overhead`` = total - pipeline = ``started_at - created``: the queue, the worker's wake-up and
  the claim. While every worker thread is busy with other operations an operation must wait
  however fast the service is; that part (``busy``, from the same records) is reported apart,
  and ``service overhead`` = overhead - busy is what the service adds.

The client also notes when it sent the POST and when a poll first showed COMPLETED, so the
latency a user sees (poll interval included) is reported beside.
"""
from __future__ import annotations

import itertools
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import requests

from bench.service import Service

WORKER_THREADS = 2
DEMO_TARGET, FRAMES_PER_OPERATION = "M51", 3


@dataclass
class Timing:
    """One operation: the client's clock around it and the service's records of it (epoch seconds)."""

    phase: str
    user: int
    submitted: float
    seen: float
    created: float
    started: float
    finished: float

    @property
    def pipeline_s(self) -> float:
        return self.finished - self.started

    @property
    def total_s(self) -> float:
        return self.finished - self.created

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.pipeline_s

    @property
    def client_s(self) -> float:
        return self.seen - self.submitted


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


class User:
    """One account of the service, talking to it as the front end does."""

    def __init__(self, service: Service, token: str, index: int, poll_s: float):
        self.api = f"{service.url}/api"
        self.archive = f"{service.url}/archive"
        self.index = index
        self.poll_s = poll_s
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.choices: itertools.permutations | None = None

    def demo_frames(self) -> list[str]:
        """Basenames of the demo field's frames, as the archive shows them to this user."""
        response = self.http.get(f"{self.archive}/frames/", timeout=30,
                                 params={"target_name": DEMO_TARGET, "limit": 100})
        response.raise_for_status()
        basenames = sorted(record["basename"] for record in response.json()["results"])
        if len(basenames) < FRAMES_PER_OPERATION:
            raise RuntimeError(f"the demo archive shows only {len(basenames)} frames of {DEMO_TARGET}")
        self.choices = itertools.permutations(basenames, FRAMES_PER_OPERATION)
        return basenames

    def run_next(self, phase: str) -> Timing:
        """A Median of the next ordered choice of frames: a request this user has not made before."""
        if self.choices is None:
            self.demo_frames()
        return self.run_median(list(next(self.choices)), phase)

    def run_median(self, basenames: list[str], phase: str) -> Timing:
        # A fresh connection: one kept from before a pause may be closing (gunicorn's keepalive is 5 s),
        # and a POST sent on it as it closes fails without an answer.
        self.http.close()
        items = [{"type": "fitsfile", "source": "archive", "basename": name} for name in basenames]
        created = self.http.post(f"{self.api}/datasessions/", json={"name": phase, "input_data": items}, timeout=30)
        created.raise_for_status()
        operations = f"{self.api}/datasessions/{created.json()['id']}/operations/"
        submitted = time.time()
        response = self.http.post(operations, json={"name": "Median", "input_data": {"input_files": items}},
                                  timeout=30)
        response.raise_for_status()
        url = f"{operations}{response.json()['id']}/"
        while True:
            body = self.http.get(url, timeout=30).json()
            if body["status"] in ("COMPLETED", "FAILED"):
                seen = time.time()
                break
            time.sleep(self.poll_s)
        if body["status"] != "COMPLETED":
            raise RuntimeError(f"operation {url} failed: {body['message']}")
        return Timing(phase=phase, user=self.index, submitted=submitted, seen=seen, created=_epoch(body["created"]),
                      started=_epoch(body["started_at"]), finished=_epoch(body["finished_at"]))


def _in_parallel(tasks: list) -> list:
    """Run the callables at once, each on its own thread, released together; their results in order."""
    results: list = [None] * len(tasks)
    errors: list[BaseException] = []
    start = threading.Barrier(len(tasks))

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = tasks[index]()
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(tasks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def busy_wait_s(timing: Timing, everything: list[Timing], threads: int = WORKER_THREADS) -> float:
    """Seconds of ``timing``'s wait during which at least ``threads`` other operations were running."""
    others = [(other.started, other.finished) for other in everything if other is not timing]
    edges = sorted({timing.created, timing.started, *(t for span in others for t in span
                                                       if timing.created < t < timing.started)})
    waited = 0.0
    for low, high in zip(edges, edges[1:], strict=False):
        middle = (low + high) / 2
        if sum(1 for began, ended in others if began <= middle < ended) >= threads:
            waited += high - low
    return waited


@dataclass
class PhaseReport:
    phase: str
    users: int
    operations: int
    per_minute: float | None  # only for users submitting one after another; None for the paused trials
    pipeline_s: float
    total_s: float
    overhead_s: float
    overhead_p90_s: float
    overhead_max_s: float
    busy_s: float
    service_overhead_s: float
    service_overhead_max_s: float
    client_s: float


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summarise(phase: str, users: int, timings: list[Timing], everything: list[Timing], *,
              rate: bool = True) -> PhaseReport:
    busy = [busy_wait_s(timing, everything) for timing in timings]
    service = [timing.overhead_s - waited for timing, waited in zip(timings, busy, strict=True)]
    span = max(t.seen for t in timings) - min(t.submitted for t in timings)
    overheads = [t.overhead_s for t in timings]
    return PhaseReport(
        phase=phase, users=users, operations=len(timings), per_minute=60.0 * len(timings) / span if rate else None,
        pipeline_s=statistics.median(t.pipeline_s for t in timings),
        total_s=statistics.median(t.total_s for t in timings),
        overhead_s=statistics.median(overheads), overhead_p90_s=_percentile(overheads, 0.9),
        overhead_max_s=max(overheads), busy_s=statistics.median(busy),
        service_overhead_s=statistics.median(service), service_overhead_max_s=max(service),
        client_s=statistics.median(t.client_s for t in timings),
    )


@dataclass
class PairReport:
    """Two operations submitted at once against one alone: first created to last COMPLETED."""

    alone_s: float
    pair_s: float

    @property
    def ratio(self) -> float:
        return self.pair_s / self.alone_s


def _makespan(timings: list[Timing]) -> float:
    return max(t.finished for t in timings) - min(t.created for t in timings)


def measure(service: Service, *, user_counts: list[int], operations: int, pairs: int, think_s: float,
            pause_s: float, poll_s: float) -> tuple[list[PhaseReport], PairReport, list[Timing]]:
    """Warm up (one operation per user), then alone/pair trials, then each number of users in turn."""
    users = [User(service, token, index, poll_s) for index, token in enumerate(service.tokens)]
    users[0].run_median(users[0].demo_frames(), "warm-up")  # every frame into the frame cache
    everything: list[Timing] = []
    for user in users:  # each user's first request, the worker's threads and imports warm
        user.run_next("warm-up")

    alone, paired = [], []
    for trial in range(pairs):
        time.sleep(pause_s)
        one = users[0].run_next(f"alone {trial + 1}")
        time.sleep(pause_s)
        two = _in_parallel([lambda user=user, trial=trial: user.run_next(f"pair {trial + 1}")
                            for user in users[:2]])
        everything += [one, *two]
        alone.append(_makespan([one]))
        paired.append(_makespan(two))
    reports = [summarise("alone (after a pause)", 1, [t for t in everything if t.phase.startswith("alone")],
                         everything, rate=False),
               summarise("two at once (after a pause)", 2, [t for t in everything if t.phase.startswith("pair")],
                         everything, rate=False)]

    for count in user_counts:
        time.sleep(pause_s)
        phase = f"{count} user(s)"

        def loop(user: User, phase: str = phase) -> list[Timing]:
            done = []
            for index in range(operations):
                if index:
                    time.sleep(think_s)
                done.append(user.run_next(phase))
            return done

        timings = [t for done in _in_parallel([lambda user=user: loop(user) for user in users[:count]]) for t in done]
        everything += timings
        reports.append(summarise(phase, count, timings, everything))
    return reports, PairReport(alone_s=statistics.median(alone), pair_s=statistics.median(paired)), everything


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def format_report(reports: list[PhaseReport], pair: PairReport) -> str:
    lines = [_row(["phase", "users", "ops", "ops/min", "pipeline s", "created→COMPLETED s",
                   "overhead s (median / p90 / max)", "waiting for a busy worker s",
                   "service overhead s (median / max)", "client POST→seen s"]),
             _row(["---"] * 10)]
    for report in reports:
        lines.append(_row([
            report.phase, str(report.users), str(report.operations),
            "" if report.per_minute is None else f"{report.per_minute:.1f}",
            f"{report.pipeline_s:.3f}", f"{report.total_s:.3f}",
            f"{report.overhead_s:.3f} / {report.overhead_p90_s:.3f} / {report.overhead_max_s:.3f}",
            f"{report.busy_s:.3f}", f"{report.service_overhead_s:.3f} / {report.service_overhead_max_s:.3f}",
            f"{report.client_s:.3f}"]))
    lines.append("")
    lines.append(f"two at once / one alone (created → last COMPLETED, median of trials): "
                 f"{pair.pair_s:.3f} s / {pair.alone_s:.3f} s = {pair.ratio:.2f}")
    return "\n".join(lines)
