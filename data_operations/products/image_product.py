"""One FITS image product with its previews, as every image operation publishes it.

Wraps ``write_output_fits`` and ``write_jpeg_previews`` so an operation names only what differs:
the pixels, the header, a file stem, the inputs it was made from and any extra image extensions
(for instance Combine's per-pixel count of rejected samples).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from data_operations.context import OutputFile
from data_operations.products.fits_output import write_output_fits
from data_operations.products.previews import write_jpeg_previews


def write_image_product(image: np.ndarray, header: fits.Header, *, stem: str, temp_dir: Path,
                        provenance: dict[str, Any], inputs: Sequence[str], metadata: dict[str, Any],
                        extensions: Sequence[fits.ImageHDU | fits.CompImageHDU] = ()) -> OutputFile:
    """Write ``<stem>.fits`` (+ ``extensions`` after ``SCI``) and its large/small JPEG previews.

    ``provenance`` is the context's; ``inputs`` are the basenames this product was made from.
    """
    fits_path = temp_dir / f"{stem}.fits"
    large_path = temp_dir / f"{stem}-large.jpg"
    small_path = temp_dir / f"{stem}-small.jpg"
    write_output_fits(fits_path, image, header, provenance={**provenance, "inputs": list(inputs)})
    if extensions:
        _append_extensions(fits_path, extensions)
    write_jpeg_previews(image, large_path=large_path, small_path=small_path)
    return OutputFile(fits_path=fits_path, large_jpg_path=large_path, small_jpg_path=small_path,
                      type="fits", metadata=dict(metadata))


def _append_extensions(fits_path: Path, extensions: Sequence[fits.ImageHDU | fits.CompImageHDU]) -> None:
    """Append HDUs to a finished product; the file is replaced only once the copy is complete."""
    partial = fits_path.with_name(f".{fits_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with fits.open(fits_path) as written:
            hdus = fits.HDUList([hdu for hdu in written] + list(extensions))
            hdus.writeto(partial, checksum=True, output_verify="exception")
        os.replace(partial, fits_path)
    finally:
        partial.unlink(missing_ok=True)
