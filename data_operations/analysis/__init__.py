"""Pixel maths behind the image viewer's analysis actions (no Django, no I/O of our own).

A subpackage, so the operation registry (which lists modules, not packages) does not mistake it
for an operation. Coordinates here are 0-based FITS pixel coordinates: ``column`` along NAXIS1,
``row`` along NAXIS2 with row 0 at the bottom of the sky image.
"""
