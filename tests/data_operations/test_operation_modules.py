"""Every operation module holds its description, inputs and science, and nothing of the plumbing."""
from __future__ import annotations

import inspect

import pytest

from data_operations.framework import CompositeOperation, FrameByFrameOperation, StackOperation, TableOperation
from data_operations.registry import available_operations

# Names that belong to the framework: fetching, progress, headers, provenance, product writing.
PLUMBING = ("input_path", "set_progress", "ImageProductWriter", "write_image_product", "write_color_products",
            "build_output_header", "shared_metadata", "open_output_fits", "FrameStack(", "AlignedStack(",
            "read_image(", "temp_dir", "provenance")
SHAPES = (StackOperation, FrameByFrameOperation, CompositeOperation, TableOperation)


@pytest.mark.parametrize("name", sorted(available_operations()))
def test_operation_module_holds_no_plumbing(name):
    operation_class = available_operations()[name]
    source = inspect.getsource(inspect.getmodule(operation_class))
    assert [word for word in PLUMBING if word in source] == []


@pytest.mark.parametrize("name", sorted(available_operations()))
def test_operation_leaves_operate_to_its_shape(name):
    operation_class = available_operations()[name]
    assert issubclass(operation_class, SHAPES)
    assert "operate" not in operation_class.__dict__
