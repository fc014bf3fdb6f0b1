"""Writing products: the lossless compressed FITS and its JPEG previews."""
from data_operations.products.fits_output import (
    add_provenance,
    agreed_value,
    build_output_header,
    open_output_fits,
    shared_metadata,
    write_output_fits,
)
from data_operations.products.previews import write_jpeg, write_jpeg_previews, zscale_limits

__all__ = [
    "add_provenance",
    "agreed_value",
    "build_output_header",
    "open_output_fits",
    "shared_metadata",
    "write_jpeg",
    "write_jpeg_previews",
    "write_output_fits",
    "zscale_limits",
]
