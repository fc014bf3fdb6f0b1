"""Admission control: an operation too large for the worker is refused from headers, by name."""
from __future__ import annotations

import numpy as np
import pytest

from data_operations.admission import BASE_OVERHEAD_BYTES, PER_FRAME_OVERHEAD_BYTES, estimated_bytes
from data_operations.combine import Combine
from data_operations.errors import OperationError
from data_operations.median import Median
from data_operations.stacking import Stacking


def test_estimate_adds_budget_whole_images_and_per_frame_overhead():
    expected = BASE_OVERHEAD_BYTES + 256 * 2**20 + int(2.5 * 4096 * 4096 * 4) + 50 * PER_FRAME_OVERHEAD_BYTES
    assert estimated_bytes(shape=(4096, 4096), frame_count=50, budget_bytes=256 * 2**20,
                           whole_image_copies=2.5) == expected


def test_estimate_of_a_large_stack_stays_bounded_in_the_frame_count():
    few = estimated_bytes(shape=(4096, 4096), frame_count=10, budget_bytes=256 * 2**20, whole_image_copies=2)
    many = estimated_bytes(shape=(4096, 4096), frame_count=500, budget_bytes=256 * 2**20, whole_image_copies=2)
    assert many - few == 490 * PER_FRAME_OVERHEAD_BYTES  # no N x frame-size term


@pytest.mark.parametrize("operation_class", [Median, Stacking, Combine])
def test_operation_over_the_limit_is_refused_before_decoding(operation_class, write_frame, make_context):
    files = {f"f{i}": write_frame(f"f{i}", np.ones((64, 80), np.float32)) for i in range(3)}
    limit = BASE_OVERHEAD_BYTES  # less than any estimate
    context = make_context(files, memory_budget_bytes=1 << 20, memory_limit_bytes=limit)
    items = [{"source": "archive", "basename": name} for name in files]
    needed = estimated_bytes(shape=(64, 80), frame_count=3, budget_bytes=1 << 20,
                             whole_image_copies=operation_class.whole_image_copies)
    with pytest.raises(OperationError) as refused:
        operation_class({"input_files": items}).operate(context)
    assert str(refused.value) == (
        f"{operation_class.name()} of 3 frame(s) of 80x64 pixels needs about {needed // 2**20} MiB, more than the "
        f"{limit // 2**20} MiB a worker allows one operation. Use smaller frames or ask the operator to raise "
        "OPERATION_MEMORY_LIMIT_BYTES."
    )
    assert not any(message.startswith(("Combining", "Summing")) for _, message in context.progress)


def test_operation_within_the_limit_runs(write_frame, make_context):
    files = {f"f{i}": write_frame(f"f{i}", np.full((64, 80), float(i), np.float32)) for i in range(3)}
    context = make_context(files, memory_limit_bytes=4 * 2**30)
    items = [{"source": "archive", "basename": name} for name in files]
    result = Median({"input_files": items}).operate(context)
    assert len(result.output_files) == 1
