"""Combine: mean, median or sum of frames with outlier rejection (sigma clipping or min/max).

Frames are read a band of rows at a time (aligned on the sky first with ``align: wcs``); each band
is clipped and combined by the pure kernels in ``kernels.combine``. The product's ``SCI`` header
records the method, the rejection and its thresholds and NCOMBINE; a ``REJECTED`` extension counts
the samples rejected at each pixel.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from astropy.io import fits

from data_operations._image_operation import ALIGN_INPUT, ImageOperation, progress_span
from data_operations.base import OperationResult, fits_input
from data_operations.context import OperationContext
from data_operations.frames import efficient_band_rows
from data_operations.frames.alignment import open_frames, unaligned_pointing_warning
from data_operations.kernels.combine import (
    COMBINE_METHODS,
    REJECTION_METHODS,
    combine_band,
    rejected_counts,
    rejection_mask,
    working_copies,
)
from data_operations.kernels.threads import core_count, split_rows
from data_operations.products import build_output_header, shared_metadata
from data_operations.products.image_product import ImageProductWriter

OUTPUT_STEM = "combine"
FETCH_END = 0.2
ALIGN_END = 0.5  # used only when aligning; otherwise combining starts at FETCH_END
COMBINE_END = 0.9
REJECTED_EXTENSION = "REJECTED"


def _combine_rows(band: np.ndarray, method: str, rejection: str, sigma_low: float, sigma_high: float,
                  out: np.ndarray, rejected: np.ndarray) -> None:
    """Reject and combine the samples of some rows: the combined values into ``out``, counts into ``rejected``."""
    mask = rejection_mask(band, rejection, sigma_low=sigma_low, sigma_high=sigma_high)
    combine_band(band, method, mask, out=out)
    rejected[...] = rejected_counts(mask, out.shape)


class Combine(ImageOperation):
    # The result, the int16 rejection counts and the writer's working copy.
    whole_image_copies = 2.5

    @staticmethod
    def name() -> str:
        return "Combine"

    @staticmethod
    def description() -> str:
        return (
            "Combines frames pixel by pixel into one deeper image with the mean, median or sum, after "
            "rejecting outliers such as cosmic rays and satellite trails. Sigma clipping rejects samples "
            "further than sigma_low / sigma_high robust standard deviations (from the median and the "
            "median absolute deviation) from the median, iterating until nothing changes; min/max "
            "rejects the lowest and highest sample of every pixel. Frames can first be aligned on the "
            "sky using their WCS."
        )

    @classmethod
    def wizard_description(cls) -> dict[str, Any]:
        return cls.wizard({
            "input_files": fits_input("Input Files", "The frames to combine", minimum=2, maximum=999),
            "method": {
                "name": "Method",
                "description": "How the kept samples of each pixel are combined",
                "type": "select",
                "options": list(COMBINE_METHODS),
                "default": "mean",
            },
            "rejection": {
                "name": "Rejection",
                "description": "How outlying samples are rejected before combining",
                "type": "select",
                "options": list(REJECTION_METHODS),
                "default": "sigma_clip",
            },
            "sigma_low": {
                "name": "Sigma Low",
                "description": "Reject samples this many standard deviations below the median",
                "type": "float",
                "default": 3.0,
                "minimum": 0.1,
            },
            "sigma_high": {
                "name": "Sigma High",
                "description": "Reject samples this many standard deviations above the median",
                "type": "float",
                "default": 3.0,
                "minimum": 0.1,
            },
            "align": dict(ALIGN_INPUT),
        })

    def operate(self, context: OperationContext) -> OperationResult:
        method, rejection, align = self.value("method"), self.value("rejection"), self.value("align")
        sigma_low, sigma_high = float(self.value("sigma_low")), float(self.value("sigma_high"))
        paths, basenames = self.fetch(context, "input_files", start=0.0, end=FETCH_END)
        combine_start = ALIGN_END if align == "wcs" else FETCH_END
        warnings: list[str] = []

        with open_frames(paths, basenames, align=align, workdir=context.temp_dir / "aligned",
                         memory_budget_bytes=context.memory_budget_bytes,
                         progress=progress_span(context, FETCH_END, ALIGN_END)) as stack:
            self.admit(context, shape=stack.shape, frame_count=stack.count)
            ny, nx = stack.shape
            header = build_output_header(stack.headers[0])
            metadata = shared_metadata(stack.headers)
            if stack.cropped:
                warnings.append(self.note_crop(header, stack.shape, "combined image"))
            header["COMBMETH"] = (method, "Combination of the kept samples")
            header["REJECT"] = (rejection, "Outlier rejection")
            if rejection == "sigma_clip":
                header["SIGLOW"] = (sigma_low, "Lower clipping threshold (sigma)")
                header["SIGHIGH"] = (sigma_high, "Upper clipping threshold (sigma)")
            header["NCOMBINE"] = (stack.count, "Number of frames combined")
            header["DLALIGN"] = (align, "Alignment before combining")

            rejected = np.zeros((ny, nx), dtype=np.int16)
            rows = efficient_band_rows(context.memory_budget_bytes - rejected.nbytes,
                                       math.ceil(stack.count * (1 + working_copies(method, rejection))), nx)
            report = progress_span(context, combine_start, COMBINE_END)
            with ImageProductWriter(stack.shape, header, stem=OUTPUT_STEM, temp_dir=context.temp_dir,
                                    provenance=context.provenance, inputs=basenames, metadata=metadata) as product:
                threads = core_count()
                with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="combine") as pool:
                    for y0, y1, band in stack.bands(rows):
                        # A fresh array per band: the compressor still reads earlier ones.
                        combined = np.empty((y1 - y0, nx), dtype=np.float32)
                        # Parts of the band side by side, one per core (the decoders wait on this band).
                        for future in [pool.submit(_combine_rows, band[:, a:b], method, rejection, sigma_low,
                                                   sigma_high, combined[a:b], rejected[y0 + a:y0 + b])
                                       for a, b in split_rows(y1 - y0, threads)]:
                            future.result()
                        product.write_rows(y0, combined)
                        report(y1 / ny, f"Combining rows {y0 + 1}\N{EN DASH}{y1} of {ny} ({method}, {rejection}).")
                if align != "wcs":  # here its WCS work overlaps the compression of the last bands
                    pointing = unaligned_pointing_warning(stack.frames, stack.shape,
                                                          "Choose align 'wcs' to align them on the sky.")
                    warnings.extend([pointing] if pointing else [])
                rejected_hdu = fits.CompImageHDU(rejected, name=REJECTED_EXTENSION, compression_type="RICE_1")
                rejected_hdu.header["COMMENT"] = "Number of samples rejected at each pixel"
                context.set_progress(COMBINE_END, "Writing the combined image and previews.")
                output = product.finish(extensions=[rejected_hdu])
        context.set_progress(1.0, "Done.")
        return OperationResult(output_files=[output], warnings=warnings)
