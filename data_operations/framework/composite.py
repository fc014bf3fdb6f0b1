"""Operations that composite several channels into one colour picture.

The science is two methods: :meth:`CompositeOperation.prepare_channel` (per channel, before
compositing: display limits, say, from the channel's whole image when it needs one) and
:meth:`CompositeOperation.compose_band` (a band of aligned channels to a band of RGB pixels).
The framework fetches the channels, aligns them on the sky onto the first (by pixel position where
a channel has no usable WCS, and says so), admits the work, and writes the picture's products.
"""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from data_operations.base import BaseDataOperation, OperationResult
from data_operations.context import OperationContext
from data_operations.frames import FrameStack, efficient_band_rows
from data_operations.frames.alignment import AlignedStack, celestial_wcs
from data_operations.frames.single import read_image
from data_operations.framework.inputs import FetchedFiles, fetch_files
from data_operations.framework.progress import ProgressPlan, ProgressReport
from data_operations.products import shared_metadata
from data_operations.products.color_product import write_color_products

FETCH_WEIGHT, PREPARE_WEIGHT, ALIGN_WEIGHT, COMPOSE_WEIGHT, WRITE_WEIGHT = 0.2, 0.1, 0.4, 0.2, 0.1
RGB_CHANNELS = 3


class CompositeOperation(BaseDataOperation):
    """Base of the operations whose science maps a band of aligned channels to RGB pixels."""

    abstract: ClassVar[bool] = True
    #: The ``fits`` input holding the channels (items carry the channel's options).
    input_key: ClassVar[str]
    output_stem: ClassVar[str]
    #: Band-sized float32 arrays per channel while composing (the sample and its working copies).
    compose_copies_per_channel: ClassVar[int] = 1

    @abstractmethod
    def prepare_channel(self, item: dict[str, Any], load_image: Callable[[], np.ndarray]) -> None:
        """Take what the composite needs from one channel, in order; ``load_image()`` reads it whole."""

    @abstractmethod
    def compose_band(self, band: np.ndarray, out: np.ndarray) -> None:
        """The science: ``band`` (channels, rows, cols) float32 into ``out`` (rows, cols, 3) uint8."""

    def operate(self, context: OperationContext) -> OperationResult:
        plan = ProgressPlan(context, [("fetch", FETCH_WEIGHT), ("prepare", PREPARE_WEIGHT), ("align", ALIGN_WEIGHT),
                                      ("compose", COMPOSE_WEIGHT), ("write", WRITE_WEIGHT)])
        channels = fetch_files(context, self.files(self.input_key), plan.step("fetch"), label="channel")
        self._prepare(channels, plan.step("prepare"))
        warnings: list[str] = []
        with _open_channels(channels, context, plan.step("align"), warnings) as stack:
            self.admit(context, shape=stack.shape, frame_count=stack.count)
            ny, nx = stack.shape
            rgb = np.empty((ny, nx, RGB_CHANNELS), dtype=np.uint8)
            rows = efficient_band_rows(context.memory_budget_bytes - rgb.nbytes,
                                       stack.count * self.compose_copies_per_channel, nx)
            report = plan.step("compose")
            for y0, y1, band in stack.bands(rows):
                self.compose_band(band, rgb[y0:y1])
                report(y1 / ny, f"Compositing rows {y0 + 1}\N{EN DASH}{y1} of {ny}.")
            metadata = shared_metadata(stack.headers)
            if stack.cropped:
                warnings.append(f"The channels differ in size; the picture covers their common region of "
                                f"{nx}x{ny} pixels from the origin.")
        plan.begin("write", "Writing the colour picture.")
        output = write_color_products(rgb, stem=self.output_stem, temp_dir=context.temp_dir, metadata=metadata)
        plan.done()
        return OperationResult(output_files=[output], warnings=warnings)

    def _prepare(self, channels: FetchedFiles, report: ProgressReport) -> None:
        for position, (item, path, basename) in enumerate(
                zip(channels.items, channels.paths, channels.basenames, strict=True)):
            report(position / len(channels.items), f"Preparing channel {position + 1} ({basename}).")
            self.prepare_channel(item, lambda path=path, basename=basename: read_image(path, basename)[0])


def _open_channels(channels: FetchedFiles, context: OperationContext, report: ProgressReport,
                   warnings: list[str]) -> FrameStack | AlignedStack:
    """Channels aligned onto the first by WCS; by pixel position where a WCS is missing."""
    paths, basenames = channels.paths, channels.basenames
    if len(paths) > 1:
        with FrameStack(paths, basenames) as headers_only:
            reference_has_wcs = celestial_wcs(headers_only.frames[0].header) is not None
        if reference_has_wcs:
            stack = AlignedStack(paths, basenames, workdir=context.temp_dir / "aligned",
                                 memory_budget_bytes=context.memory_budget_bytes, unaligned_fallback=True,
                                 progress=report)
            if stack.unaligned:
                warnings.append(f"{', '.join(stack.unaligned)} has no usable WCS, so it was overlaid by "
                                "pixel position instead of aligned on the sky.")
            return stack
        warnings.append(f"The first channel ({basenames[0]}) has no usable WCS, so the channels were "
                        "overlaid by pixel position without alignment.")
    return FrameStack(paths, basenames)
