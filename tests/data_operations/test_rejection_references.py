"""Rejection masks against the references a scientist would cite: astropy's sigma_clip and ccdproc.

Seeded stacks of N = 3 ... 200 frames, several sigma pairs, NaN fractions, infinite and huge values:
zero mask mismatches, on the C kernels and on the numpy fallback alike. Infinite samples are first
made NaN, as the frame reader does, and astropy gets the same NaN-converted stack.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning

from data_operations.kernels.combine import minmax_mask, rejection_mask, sigma_clip_mask

pytestmark = pytest.mark.usefixtures("kernel_path")

FRAME_COUNTS = (3, 10, 25, 60, 200)
SIGMA_PAIRS = ((3.0, 3.0), (2.0, 2.5), (2.5, 2.0), (1.5, 4.0))
NAN_FRACTIONS = (0.0, 0.1, 0.4)


def astropy_mask(band: np.ndarray, sigma_low: float, sigma_high: float, maxiters: int | None = 5) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        clipped = sigma_clip(band, sigma_lower=sigma_low, sigma_upper=sigma_high, maxiters=maxiters,
                             cenfunc="median", stdfunc="mad_std", axis=0, masked=True)
    return np.ma.getmaskarray(clipped) & np.isfinite(band)


def stack(frames: int, nan_fraction: float, seed: int, pixels: int = 4096) -> np.ndarray:
    """Gaussian sky with cosmic rays and heavy-tailed pixels, some samples NaN."""
    rng = np.random.default_rng(seed)
    band = rng.normal(1000.0, 15.0, size=(frames, 8, pixels // 8)).astype(np.float32)
    band[:, 4:] += (5.0 * rng.standard_cauchy(size=(frames, 4, pixels // 8))).astype(np.float32)
    band[rng.random(band.shape) < 0.02] = 60000.0
    band[rng.random(band.shape) < nan_fraction] = np.nan
    return band


@pytest.mark.parametrize("frames", FRAME_COUNTS)
@pytest.mark.parametrize("nan_fraction", NAN_FRACTIONS)
def test_sigma_clip_masks_equal_astropys(frames, nan_fraction):
    band = stack(frames, nan_fraction, seed=frames * 10 + int(nan_fraction * 10))
    for sigma_low, sigma_high in SIGMA_PAIRS:
        mask = sigma_clip_mask(band, sigma_low=sigma_low, sigma_high=sigma_high)
        expected = astropy_mask(band, sigma_low, sigma_high)
        assert int((mask != expected).sum()) == 0, (sigma_low, sigma_high)
    assert mask.any()


@pytest.mark.parametrize("maxiters", [1, 2, 10, None])
def test_max_iterations_is_astropys_maxiters(maxiters):
    band = stack(25, 0.05, seed=7)
    mask = rejection_mask(band, "sigma_clip", sigma_low=2.0, sigma_high=2.0, max_iterations=maxiters)
    np.testing.assert_array_equal(mask, astropy_mask(band, 2.0, 2.0, maxiters=maxiters))


def test_a_sample_clipped_early_comes_back_when_the_bounds_widen():
    """astropy applies the last bounds to every sample; accumulating rejections would keep it out."""
    band = stack(10, 0.0, seed=3)
    mask = sigma_clip_mask(band, sigma_low=3.0, sigma_high=3.0)
    first_pass = sigma_clip_mask(band, sigma_low=3.0, sigma_high=3.0, max_iterations=1)
    np.testing.assert_array_equal(mask, astropy_mask(band, 3.0, 3.0))
    came_back = first_pass & ~mask
    assert came_back.any(), "the data must hold samples that return in a later pass"


@pytest.mark.parametrize("frames", [3, 10, 60])
def test_infinite_and_huge_values_match_astropy_on_the_nan_converted_stack(frames):
    rng = np.random.default_rng(frames)
    band = stack(frames, 0.05, seed=frames + 100)
    band[rng.random(band.shape) < 0.03] = np.inf
    band[rng.random(band.shape) < 0.03] = -np.inf
    band[rng.random(band.shape) < 0.03] = 3.4e38
    band[rng.random(band.shape) < 0.03] = -3.4e38
    band[:, 0, :5] = 3.4e38  # pixels made only of near-overflow values
    converted = np.where(np.isinf(band), np.float32(np.nan), band)
    for sigma_low, sigma_high in SIGMA_PAIRS:
        mask = sigma_clip_mask(converted, sigma_low=sigma_low, sigma_high=sigma_high)
        np.testing.assert_array_equal(mask, astropy_mask(converted, sigma_low, sigma_high))
        # the kernel itself treats inf as missing, so the unconverted stack gives the same mask
        np.testing.assert_array_equal(sigma_clip_mask(band, sigma_low=sigma_low, sigma_high=sigma_high), mask)


def test_pixels_with_one_or_no_finite_sample_reject_nothing():
    band = stack(5, 0.0, seed=9)
    band[:, 0, 0] = np.nan
    band[1:, 0, 1] = np.nan
    mask = sigma_clip_mask(band)
    assert not mask[:, 0, 0].any() and not mask[:, 0, 1].any()
    np.testing.assert_array_equal(mask, astropy_mask(band, 3.0, 3.0))


@pytest.mark.parametrize("frames", FRAME_COUNTS)
def test_minmax_equals_ccdproc_clip_extrema_without_nan(frames):
    ccdproc = pytest.importorskip("ccdproc")
    from astropy.nddata import CCDData

    rng = np.random.default_rng(frames)
    # distinct values per pixel (ccdproc's argsort orders exact ties arbitrarily): a shuffled ladder
    ranks = rng.permuted(np.broadcast_to(np.arange(frames)[:, None, None], (frames, 8, 128)), axis=0)
    band = (1000.0 + 0.5 * ranks + rng.uniform(0.0, 0.25, size=ranks.shape)).astype(np.float32)
    band[rng.random(band.shape) < 0.02] *= 40.0  # cosmic rays, still distinct
    combiner = ccdproc.Combiner([CCDData(plane, unit="adu") for plane in band])
    combiner.clip_extrema(nlow=1, nhigh=1)
    np.testing.assert_array_equal(minmax_mask(band), combiner.data_arr.mask)


def test_minmax_sets_nan_aside_first_then_rejects_the_finite_extremes():
    band = stack(6, 0.3, seed=12, pixels=1024)
    band[:4, 0, 0] = np.nan  # two finite samples: both kept
    band[:, 0, 1] = np.nan  # none: nothing to reject
    mask = minmax_mask(band)
    finite = np.isfinite(band)
    counts = finite.sum(axis=0)
    for row, col in np.ndindex(*band.shape[1:]):
        samples = band[:, row, col]
        expected = np.zeros(len(samples), dtype=bool)
        if counts[row, col] >= 3:
            indices = np.flatnonzero(finite[:, row, col])
            expected[indices[np.argmin(samples[indices])]] = True  # ties: the first lowest
            expected[indices[len(indices) - 1 - np.argmax(samples[indices][::-1])]] = True  # ties: the last
        np.testing.assert_array_equal(mask[:, row, col], expected)
    assert not mask[:, 0, 0].any() and not mask[:, 0, 1].any()
