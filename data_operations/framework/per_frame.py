"""Operations that make one output image from each input frame.

The science is one method, :meth:`FrameByFrameOperation.process`: from one frame's image (and the
images of any reference inputs, such as the frame Subtraction subtracts) to the product's pixels
and the header keywords that describe what was done. The framework fetches the files, reads each
reference once, reads the frames one at a time, crops a frame and its references to their common
region, admits each frame against the memory limit, checks that they point at the same sky, and
writes one product per frame.
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from data_operations.base import BaseDataOperation, OperationResult
from data_operations.context import OperationContext, OutputFile
from data_operations.frames import FrameInfo, FrameStack
from data_operations.frames.alignment import unaligned_pointing_warning
from data_operations.frames.single import read_image
from data_operations.framework.headers import (
    INFINITE_COMMENT,
    INFINITE_KEYWORD,
    Keywords,
    infinite_note,
    note_crop,
    output_header,
)
from data_operations.framework.inputs import fetch_files
from data_operations.framework.progress import ProgressPlan
from data_operations.products import shared_metadata
from data_operations.products.image_product import write_image_product

FETCH_WEIGHT, REFERENCE_WEIGHT, PROCESS_WEIGHT = 0.2, 0.02, 0.8


@dataclass
class FrameProduct:
    """What the science makes of one frame: the product's pixels and its descriptive keywords."""

    image: np.ndarray
    keywords: Keywords = field(default_factory=dict)


class FrameByFrameOperation(BaseDataOperation):
    """Base of the operations that map every input frame to one output image."""

    abstract: ClassVar[bool] = True
    #: The ``fits`` input holding the frames, one product each.
    input_key: ClassVar[str] = "input_files"
    #: Single-file ``fits`` inputs used with every frame (read once), in the order ``process`` gets them.
    reference_keys: ClassVar[tuple[str, ...]] = ()
    #: Products are named ``<output_stem>-1``, ``<output_stem>-2``...
    output_stem: ClassVar[str]
    #: What a product is called in messages ("the difference covers their common region...").
    product_noun: ClassVar[str] = "image"
    #: How the progress message starts, before "frame 2 of 5 (name).".
    progress_verb: ClassVar[str] = "Processing"
    #: When set, warn (with this hint) where a frame and its references point at different skies.
    unaligned_hint: ClassVar[str | None] = None
    # A frame, its references and the writer's working copy.
    whole_image_copies: ClassVar[float] = 3.0

    @abstractmethod
    def process(self, image: np.ndarray, frame: FrameInfo, references: list[np.ndarray]) -> FrameProduct:
        """The science: the product of one frame. ``image`` (float32) is the caller's to modify.

        ``references`` are the reference inputs' images cropped to the frame's shape; they are
        shared between frames, so they must not be modified. Raise OperationError with a sentence
        when a frame cannot be processed.
        """

    def operate(self, context: OperationContext) -> OperationResult:
        references_steps = [(key, REFERENCE_WEIGHT) for key in self.reference_keys]
        plan = ProgressPlan(context, [("fetch", FETCH_WEIGHT), *references_steps, ("process", PROCESS_WEIGHT)])
        frames = fetch_files(context, self.files(self.input_key), plan.step("fetch"))
        references = []
        for key in self.reference_keys:
            reference = fetch_files(context, self.files(key), plan.step(key), label=key.replace("_", " "))
            references.append(self._read_admitted(context, reference.paths[0], reference.basenames[0]))
        report = plan.step("process")
        outputs, warnings = [], []
        for position, (path, basename) in enumerate(zip(frames.paths, frames.basenames, strict=True)):
            report(position / len(frames.paths),
                   f"{self.progress_verb} frame {position + 1} of {len(frames.paths)} ({basename}).")
            outputs.append(self._one_frame(context, position, path, basename, references, warnings))
        plan.done()
        return OperationResult(output_files=outputs, warnings=warnings)

    def _read_admitted(self, context: OperationContext, path: Path, basename: str,
                       companions: list[tuple[int, int]] = ()) -> tuple[np.ndarray, FrameInfo]:
        """Read a whole frame, once its size (cropped to ``companions``) is known to fit in memory."""
        with FrameStack([path], [basename]) as headers_only:
            shapes = [headers_only.shape, *companions]
        self.admit(context, shape=(min(s[0] for s in shapes), min(s[1] for s in shapes)),
                   frame_count=1 + len(companions))
        return read_image(path, basename)

    def _one_frame(self, context: OperationContext, position: int, path: Path, basename: str,
                   references: list[tuple[np.ndarray, FrameInfo]], warnings: list[str]) -> OutputFile:
        shapes = [info.shape for _, info in references]
        image, frame = self._read_admitted(context, path, basename, shapes)
        ny, nx = min(s[0] for s in [frame.shape, *shapes]), min(s[1] for s in [frame.shape, *shapes])
        cropped = any(shape != (ny, nx) for shape in [frame.shape, *shapes])
        if cropped:
            image = np.ascontiguousarray(image[:ny, :nx])
        product = self.process(image, frame, [reference[:ny, :nx] for reference, _ in references])
        del image
        header = output_header(frame.header, product.keywords)
        infinite = frame.infinite_count + sum(info.infinite_count for _, info in references)
        header[INFINITE_KEYWORD] = (infinite, INFINITE_COMMENT)
        if infinite:
            warnings.append(f"{basename}: " + infinite_note(infinite))
        if cropped:
            warnings.append(f"{basename}: " + note_crop(header, (ny, nx), self.product_noun))
        if self.unaligned_hint and references:
            pointing = unaligned_pointing_warning([frame, *(info for _, info in references)], (ny, nx),
                                                  self.unaligned_hint)
            if pointing:
                warnings.append(f"{basename}: {pointing}")
        return write_image_product(
            np.ascontiguousarray(product.image, dtype=np.float32), header,
            stem=f"{self.output_stem}-{position + 1}", temp_dir=context.temp_dir, provenance=context.provenance,
            inputs=[basename, *(info.display_name for _, info in references)],
            metadata=shared_metadata([frame.header, *(info.header for _, info in references)]),
        )
