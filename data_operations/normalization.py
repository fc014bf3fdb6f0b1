"""Normalization: every frame divided by its own median, one product per input.

Frames are processed one at a time (one whole frame in memory: the median needs every pixel).
The median used is recorded in the product header as ``DLNORMED``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations._image_operation import ImageOperation, progress_span
from data_operations.base import OperationResult, fits_input
from data_operations.context import OperationContext
from data_operations.errors import OperationError
from data_operations.frames import FrameStack
from data_operations.frames.single import read_image
from data_operations.kernels.statistics import finite_median
from data_operations.products import build_output_header, shared_metadata
from data_operations.products.image_product import write_image_product

FETCH_END = 0.2


class Normalization(ImageOperation):
    @staticmethod
    def name() -> str:
        return "Normalization"

    @staticmethod
    def description() -> str:
        return (
            "Divides every input frame by its own median, so frames of different exposure or sky level "
            "become comparable (the median of each result is 1). Produces one image per input."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "input_files": fits_input("Input Files", "The frames to normalize", minimum=1, maximum=999),
        })

    def operate(self, context: OperationContext) -> OperationResult:
        paths, basenames = self.fetch(context, "input_files", start=0.0, end=FETCH_END)
        report = progress_span(context, FETCH_END, 1.0)
        outputs = []
        for position, (path, basename) in enumerate(zip(paths, basenames, strict=True)):
            report(position / len(paths), f"Normalizing frame {position + 1} of {len(paths)} ({basename}).")
            with FrameStack([path], [basename]) as headers_only:
                self.admit(context, shape=headers_only.shape, frame_count=1)
            image, frame = read_image(path, basename)
            median = finite_median(image)
            if median is None:
                raise OperationError(f"Frame {basename} has no finite pixels, so it has no median to "
                                     "normalize by.")
            if median == 0:
                raise OperationError(f"Frame {basename} has a median of 0, so it cannot be normalized by it.")
            image /= np.float32(median)
            header = build_output_header(frame.header)
            header["DLNORMED"] = (median, "Median the frame was divided by")
            outputs.append(write_image_product(
                image, header, stem=f"normalized-{position + 1}", temp_dir=context.temp_dir,
                provenance=context.provenance, inputs=[basename], metadata=shared_metadata([frame.header]),
            ))
            del image
        report(1.0, "Done.")
        return OperationResult(output_files=outputs)
