"""Progress of an operation as shares of one bar: each step reports 0..1 of itself."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from data_operations.context import OperationContext

ProgressReport = Callable[[float, str], None]


class ProgressPlan:
    """The steps of one run with their relative weights, mapped onto 0..1 in order.

    A step that does not happen in a run (no alignment, say) is left out of the plan, so the bar
    still ends at 1 and never goes back.
    """

    def __init__(self, context: OperationContext, steps: Sequence[tuple[str, float]]):
        self._context = context
        total = sum(weight for _, weight in steps) or 1.0
        self._spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for name, weight in steps:
            end = start + weight / total
            self._spans[name] = (start, end)
            start = end

    def step(self, name: str) -> ProgressReport:
        """A callback reporting ``fraction`` (0..1) of step ``name`` with a message."""
        start, end = self._spans[name]

        def report(fraction: float, message: str = "") -> None:
            self._context.set_progress(start + (end - start) * min(1.0, max(0.0, fraction)), message)

        return report

    def begin(self, name: str, message: str) -> None:
        self.step(name)(0.0, message)

    def done(self) -> None:
        self._context.set_progress(1.0, "Done.")
