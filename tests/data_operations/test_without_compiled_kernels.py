"""An install whose C modules were not built (no compiler, failed build) still computes right answers.

The compiled modules are made unimportable, as on such a machine, and a Median and a sigma-clipped
Combine run through the operation code with the numpy fallback: pixels equal to numpy's and
astropy's own computation from astropy-decoded frames.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import sigma_clip

from data_operations import native
from data_operations.median import Median

MISSING = {native.RICE_MODULE: False, native.NETWORK_MODULE: False, native.RESAMPLE_MODULE: False}


@pytest.fixture
def no_compiled_modules(monkeypatch):
    """Importing any C module fails, as when the build left them out."""
    for name in (native.RICE_MODULE, native.NETWORK_MODULE, native.RESAMPLE_MODULE):
        monkeypatch.delitem(sys.modules, name, raising=False)
        monkeypatch.setitem(sys.modules, name, None)  # "import" of a None entry raises ImportError
    monkeypatch.delenv(native.PURE_PYTHON_VARIABLE, raising=False)
    native._import_compiled.cache_clear()
    yield
    native._import_compiled.cache_clear()


def test_modules_are_reported_missing(no_compiled_modules):
    assert native.compiled_kernels_in_use() == MISSING


def test_median_completes_with_correct_pixels(no_compiled_modules, write_frame, read_sci, make_context):
    rng = np.random.default_rng(21)
    files, stack = {}, []
    for index in range(4):
        data = rng.normal(300.0, 20.0, size=(40, 56)).astype(np.float32)
        data[rng.random(data.shape) < 0.05] = np.nan
        name = f"frame-{index}"
        files[name] = write_frame(name, data)  # Rice-compressed, dithered: the archive's layout
        stack.append(read_sci(files[name]))
    context = make_context(files, memory_budget_bytes=40 * 4 * 56 * 4 * 3 // 5)  # several bands

    result = Median({"input_files": [{"source": "archive", "basename": name} for name in files]}).operate(context)

    [output] = result.output_files
    with fits.open(output.fits_path) as hdul:
        median = hdul["SCI"].data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(median, np.nanmedian(np.stack(stack), axis=0))
    assert native.compiled_kernels_in_use() == MISSING


def test_aligned_median_completes_with_reproject_interps_pixels(no_compiled_modules, write_frame, read_sci,
                                                               make_context):
    from astropy.wcs import WCS
    from reproject import reproject_interp

    rng = np.random.default_rng(22)
    shape = (40, 56)
    files = {}
    for index, (dx, dy) in enumerate([(0.0, 0.0), (2.3, -1.6), (-3.7, 0.8)]):
        data = rng.normal(300.0, 20.0, size=shape).astype(np.float32)
        files[f"frame-{index}"] = write_frame(f"frame-{index}", data, CRPIX1=(shape[1] + 1) / 2 + dx,
                                              CRPIX2=(shape[0] + 1) / 2 + dy)
    context = make_context(files, memory_budget_bytes=3 * 3 * 8 * shape[1] * 4)  # bands of 8 rows
    items = [{"source": "archive", "basename": name} for name in files]

    result = Median({"input_files": items, "align": "wcs"}).operate(context)

    [output] = result.output_files
    with fits.open(output.fits_path) as hdul:
        median = hdul["SCI"].data
    headers = {name: fits.getheader(path, "SCI") for name, path in files.items()}
    grid = WCS(headers["frame-0"])
    planes = [reproject_interp((read_sci(path), WCS(headers[name])), grid, shape_out=shape, order="bilinear",
                               return_footprint=False) for name, path in files.items()]
    inner = (slice(5, -5), slice(5, -5))
    np.testing.assert_allclose(median[inner], np.median(np.stack(planes), axis=0)[inner], rtol=1e-5, atol=0)
    assert native.compiled_kernels_in_use() == MISSING


def test_sigma_clip_rejection_without_the_c_kernel_equals_astropy(no_compiled_modules):
    from data_operations.kernels.combine import rejection_mask

    rng = np.random.default_rng(5)
    band = rng.normal(100.0, 5.0, size=(12, 6, 50)).astype(np.float32)
    band[rng.random(band.shape) < 0.03] = 900.0
    mask = rejection_mask(band, "sigma_clip", sigma_low=2.5, sigma_high=2.5)
    expected = np.ma.getmaskarray(sigma_clip(band, sigma=2.5, maxiters=5, cenfunc="median", stdfunc="mad_std",
                                             axis=0))
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize(("value", "forced"), [("1", True), ("true", True), (" Yes ", True), ("on", True),
                                               ("0", False), ("", False), ("no", False)])
def test_the_variable_forces_the_fallback_while_it_is_set(monkeypatch, value, forced):
    monkeypatch.setenv(native.PURE_PYTHON_VARIABLE, value)
    assert native.pure_python_forced() is forced
    if forced:
        assert native.compiled_module(native.NETWORK_MODULE) is None
