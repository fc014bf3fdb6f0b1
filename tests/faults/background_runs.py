"""Child test runs that start as soon as collection is done and overlap the rest of the suite.

``test_private_services.py`` runs the fault module in child pytest processes: on private servers,
in a network namespace, on the developer's servers. They take minutes, mostly waiting on workers,
restarts and recoveries, so the suite's wall time shrinks when they run beside the other tests
instead of after them. A module names its runs in ``BACKGROUND_RUNS`` (test name -> function
doing the run and gathering what the test checks); the runs go one after another on one thread,
and each test waits for its own run's outcome and asserts on it. A run whose test was not
selected never starts; a test whose run was not started in the background runs it itself.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

_executor: ThreadPoolExecutor | None = None
_futures: dict[Callable[[], Any], Future] = {}


def start_for(items) -> None:
    """Start the background runs of the selected test items, in the items' order."""
    global _executor
    for item in items:
        module = getattr(item, "module", None)
        run = getattr(module, "BACKGROUND_RUNS", {}).get(getattr(item, "originalname", None))
        if run is None or run in _futures:
            continue
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="background-test-run")
        _futures[run] = _executor.submit(run)


def outcome(run: Callable[[], Any]) -> Any:
    """What ``run`` returned (waiting for it if it runs in the background), or its exception."""
    future = _futures.get(run)
    return future.result() if future is not None else run()


def finish() -> None:
    """At the end of the session: drop runs not yet started, wait for the one running (its child
    pytest stops its own worker processes and servers)."""
    if _executor is not None:
        _executor.shutdown(wait=True, cancel_futures=True)
