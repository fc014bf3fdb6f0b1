"""Color Image: a composite of 1 to 6 frames, each stretched, tinted with its colour and added.

Channels are aligned on the sky onto the first channel's grid using their WCS; a channel without
a usable WCS is overlaid by pixel position instead, and the message says so. Each channel is
stretched linearly between its ``zmin`` and ``zmax`` (zscale limits when absent), multiplied by
its colour and added (see ``kernels.color``). Products: a full-resolution TIFF, a large JPEG and a
small thumbnail, ``type: "image"``, no FITS.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from data_operations._image_operation import ImageOperation, progress_span
from data_operations.base import OperationResult, fits_input
from data_operations.context import OperationContext
from data_operations.frames import FrameStack, efficient_band_rows
from data_operations.frames.alignment import AlignedStack, celestial_wcs
from data_operations.frames.single import read_image
from data_operations.kernels.color import composite_band
from data_operations.products import shared_metadata, zscale_limits
from data_operations.products.color_product import write_color_products

OUTPUT_STEM = "color"
FETCH_END = 0.2
LIMITS_END = 0.3
ALIGN_END = 0.7
COMPOSE_END = 0.9
# Per channel and pixel while composing: the band sample, its stretched copy, and the float32
# RGB light (3 values, shared by all channels, counted once per channel to stay on the safe side).
COMPOSE_COPIES_PER_CHANNEL = 3


class ColorImage(ImageOperation):
    @staticmethod
    def name() -> str:
        return "Color Image"

    @staticmethod
    def description() -> str:
        return (
            "Makes a colour picture from 1 to 6 frames: each frame is stretched between its own limits, "
            "tinted with the colour you pick and added to the others. Frames are aligned on the sky onto "
            "the first using their WCS. The result is a picture (JPEG and TIFF), not a FITS image."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "color_channels": fits_input(
                "Color Channels", "The frames to composite, each with a colour and display limits",
                minimum=1, maximum=6, color_picker=True, include_custom_scale=True,
            ),
        })

    def operate(self, context: OperationContext) -> OperationResult:
        items = self.files("color_channels")
        paths, basenames = self.fetch(context, "color_channels", start=0.0, end=FETCH_END, label="channel")
        colors = [(item["color"]["r"], item["color"]["g"], item["color"]["b"]) for item in items]
        limits = self._limits(items, paths, basenames, context)
        warnings: list[str] = []
        stack = self._open_channels(paths, basenames, context, warnings)
        with stack:
            self.admit(context, shape=stack.shape, frame_count=stack.count)
            ny, nx = stack.shape
            rgb = np.empty((ny, nx, 3), dtype=np.uint8)
            rows = efficient_band_rows(context.memory_budget_bytes - rgb.nbytes,
                                        stack.count * COMPOSE_COPIES_PER_CHANNEL, nx)
            report = progress_span(context, ALIGN_END, COMPOSE_END)
            for y0, y1, band in stack.bands(rows):
                composite_band(band, limits, colors, out=rgb[y0:y1])
                report(y1 / ny, f"Compositing rows {y0 + 1}\N{EN DASH}{y1} of {ny}.")
            metadata = shared_metadata(stack.headers)
            if stack.cropped:
                warnings.append(f"The channels differ in size; the picture covers their common region of "
                                f"{nx}x{ny} pixels from the origin.")

        context.set_progress(COMPOSE_END, "Writing the colour picture.")
        output = write_color_products(rgb, stem=OUTPUT_STEM, temp_dir=context.temp_dir, metadata=metadata)
        context.set_progress(1.0, "Done.")
        return OperationResult(output_files=[output], warnings=warnings)

    @staticmethod
    def _limits(items: list[dict], paths: list, basenames: list[str],
                context: OperationContext) -> list[tuple[float, float]]:
        """Each channel's (zmin, zmax): as given, or the zscale limits of its image (one at a time)."""
        report = progress_span(context, FETCH_END, LIMITS_END)
        limits = []
        for position, (item, path, basename) in enumerate(zip(items, paths, basenames, strict=True)):
            if item.get("zmin") is not None and item.get("zmax") is not None:
                limits.append((float(item["zmin"]), float(item["zmax"])))
                continue
            report(position / len(items), f"Measuring display limits of channel {position + 1} ({basename}).")
            image, _ = read_image(path, basename)
            low, high = zscale_limits(image)
            limits.append((low, high if high > low else low + 1.0))
            del image
        return limits

    @staticmethod
    def _open_channels(paths: list, basenames: list[str], context: OperationContext,
                       warnings: list[str]) -> FrameStack | AlignedStack:
        """Channels aligned onto the first by WCS; by pixel position where a WCS is missing."""
        if len(paths) > 1:
            with FrameStack(paths, basenames) as headers_only:
                reference_has_wcs = celestial_wcs(headers_only.frames[0].header) is not None
            if reference_has_wcs:
                stack = AlignedStack(paths, basenames, workdir=context.temp_dir / "aligned",
                                     memory_budget_bytes=context.memory_budget_bytes, unaligned_fallback=True,
                                     progress=progress_span(context, LIMITS_END, ALIGN_END))
                if stack.unaligned:
                    warnings.append(f"{', '.join(stack.unaligned)} has no usable WCS, so it was overlaid by "
                                    "pixel position instead of aligned on the sky.")
                return stack
            warnings.append(f"The first channel ({basenames[0]}) has no usable WCS, so the channels were "
                            "overlaid by pixel position without alignment.")
        return FrameStack(paths, basenames)
