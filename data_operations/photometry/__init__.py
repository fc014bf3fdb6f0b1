"""The photometry core: pure numpy/astropy/photutils science shared by the photometry operations.

- ``frame_facts``: what a frame's header says about its exposure and site (times, gain, scale, ...).
- ``times``: mid-exposure UTC, JD, BJD_TDB and airmass for a whole series at once (offline).
- ``catalog``: finding a position in a frame's ``CAT`` table and cross-matching stars across frames.
- ``apertures``: centroids and aperture sums with a sigma-clipped annulus sky, masks and errors.
- ``ensemble``: differential calibration against a shared ensemble of comparison stars.
- ``period``: Lomb-Scargle on an explicit frequency grid.
- ``output``: light-curve rows, diagnostics and downloadable tables, always finite JSON.
- ``aavso``: the AAVSO Extended Format report of a light curve.
- ``exports``: the downloads of every light-curve output (ECSV and the AAVSO report) in one call.
- ``gaia``: Gaia DR3 cones behind one provider seam (fixture file, TAP with a deadline, durable cache).
- ``crossmatch``: one-to-one sky matching and proper-motion propagation between epochs.
- ``membership``: a cluster's proper-motion clump and its parallax and distance windows.
- ``cmd``: the HR Diagram's colour-magnitude points from two bands' catalogues and Gaia.

Pixel convention everywhere: 0-based, pixel centres at integers (astropy and photutils).
"""
