"""Fixtures of the photometry tests: an in-memory operation context over kit frames."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.data_operations.conftest import MemoryContext
from tests.photometry.kit import FrameTruth


@pytest.fixture
def context_for(tmp_path: Path):
    """A context that serves the given kit frames by basename."""
    def make(frames: list[FrameTruth]) -> MemoryContext:
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        return MemoryContext({frame.basename: frame.path for frame in frames}, work)
    return make


def items(frames: list[FrameTruth], filter_name: str = "rp") -> list[dict]:
    return [{"source": "archive", "basename": frame.basename, "filter": filter_name} for frame in frames]


def refuse_constant(constant: str):
    """``json.loads`` hook: NaN or Infinity fails the test (the front end's JSON parser refuses them)."""
    raise ValueError(f"non-finite {constant}")


def strict_json(value) -> str:
    """``value`` as JSON that any strict parser reads back; ValueError on a non-finite number."""
    text = json.dumps(value, allow_nan=False)
    json.loads(text, parse_constant=refuse_constant)
    return text
