"""One FITS image product with its previews, as every image operation publishes it.

An operation names only what differs: the pixels (band by band with ``ImageProductWriter`` while
it computes them, or whole with ``write_image_product``), the header, a file stem, the inputs it
was made from and any extra image extensions (for instance Combine's per-pixel count of rejected
samples).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from data_operations.context import OutputFile
from data_operations.products.fits_output import WRITE_BAND_ROWS, open_output_fits
from data_operations.products.previews import PreviewBuilder


class ImageProductWriter:
    """One image product written band by band while it is computed.

    Each band goes to the compressor threads of the FITS file and to the preview reductions as it
    arrives, so compressing and previewing overlap the computation and only the JPEG encoding is
    left for ``finish``. The bands handed over must stay unchanged until ``finish`` (the compressor
    reads them later). Use as a context manager: a failure removes the partial file.
    """

    def __init__(self, shape: tuple[int, int], header: fits.Header, *, stem: str, temp_dir: Path,
                 provenance: dict[str, Any], inputs: Sequence[str], metadata: dict[str, Any]):
        self._fits_path = temp_dir / f"{stem}.fits"
        self._large_path = temp_dir / f"{stem}-large.jpg"
        self._small_path = temp_dir / f"{stem}-small.jpg"
        self._metadata = dict(metadata)
        self._previews = PreviewBuilder(shape)
        self._writer = open_output_fits(self._fits_path, shape, header,
                                        provenance={**provenance, "inputs": list(inputs)})

    def write_rows(self, y0: int, rows: np.ndarray) -> None:
        self._writer.write_rows(y0, rows)
        self._previews.add_rows(y0, rows)

    def finish(self, extensions: Sequence[fits.ImageHDU | fits.CompImageHDU] = (),
               header_updates: dict[str, Any] | None = None) -> OutputFile:
        """Write the JPEGs (while the last bands compress), then close the FITS with ``extensions``.

        ``header_updates`` set final values of keywords the header was opened with.
        """
        self._previews.write(large_path=self._large_path, small_path=self._small_path)
        self._writer.close(extensions, header_updates)
        return OutputFile(fits_path=self._fits_path, large_jpg_path=self._large_path,
                          small_jpg_path=self._small_path, type="fits", metadata=self._metadata)

    def __enter__(self) -> ImageProductWriter:
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is not None:
            self._writer.abort()
            self._large_path.unlink(missing_ok=True)
            self._small_path.unlink(missing_ok=True)


def write_image_product(image: np.ndarray, header: fits.Header, *, stem: str, temp_dir: Path,
                        provenance: dict[str, Any], inputs: Sequence[str], metadata: dict[str, Any],
                        extensions: Sequence[fits.ImageHDU | fits.CompImageHDU] = ()) -> OutputFile:
    """Write a finished image as ``<stem>.fits`` (+ ``extensions`` after ``SCI``) and its previews.

    ``provenance`` is the context's; ``inputs`` are the basenames this product was made from.
    """
    with ImageProductWriter(image.shape, header, stem=stem, temp_dir=temp_dir, provenance=provenance,
                            inputs=inputs, metadata=metadata) as product:
        for y0 in range(0, image.shape[0], WRITE_BAND_ROWS):
            product.write_rows(y0, image[y0:y0 + WRITE_BAND_ROWS])
        return product.finish(extensions)
