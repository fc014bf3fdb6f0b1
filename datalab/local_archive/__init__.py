"""The embedded local archive: the observatory's frames API served over a directory of FITS files."""
