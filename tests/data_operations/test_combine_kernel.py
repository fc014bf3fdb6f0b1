"""The combine kernels on synthetic bands with known answers and independent reference computations.

Every test runs on the C kernels and on the numpy fallback (the ``kernel_path`` fixture).
"""
import warnings

import numpy as np
import pytest
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning

from data_operations.kernels.combine import (
    combine_band,
    minmax_mask,
    rejected_counts,
    rejection_mask,
    sigma_clip_mask,
    sum_band,
)

pytestmark = pytest.mark.usefixtures("kernel_path")


def astropy_mask(band: np.ndarray, sigma_low: float, sigma_high: float, maxiters: int | None = 5) -> np.ndarray:
    """astropy's sigma_clip mask along the frame axis, limited to the finite samples (the missing are
    never counted as rejected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)  # "input data contains invalid values"
        clipped = sigma_clip(band, sigma_lower=sigma_low, sigma_upper=sigma_high, maxiters=maxiters,
                             cenfunc="median", stdfunc="mad_std", axis=0, masked=True)
    return np.ma.getmaskarray(clipped) & np.isfinite(band)


def noisy_band(frames=7, rows=12, cols=15, seed=0):
    return np.random.default_rng(seed).normal(100.0, 5.0, size=(frames, rows, cols)).astype(np.float32)


def test_sigma_clip_rejects_an_injected_cosmic_ray_that_the_plain_mean_keeps():
    band = noisy_band()
    sky = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2]
    band[:, 4, 5] = [*sky[:3], 5000.0, *sky[3:]]

    mask = sigma_clip_mask(band, sigma_low=3.0, sigma_high=3.0)
    clipped_mean = combine_band(band, "mean", mask)
    plain_mean = combine_band(band, "mean", None)

    assert mask[:, 4, 5].tolist() == [False, False, False, True, False, False, False]
    assert clipped_mean[4, 5] == pytest.approx(np.mean(sky), rel=1e-6)
    assert plain_mean[4, 5] == pytest.approx(np.mean([*sky, 5000.0]), rel=1e-6)
    assert rejected_counts(mask, (12, 15))[4, 5] == 1
    assert rejected_counts(None, (12, 15)).sum() == 0


def test_sigma_clip_equals_astropy_with_outliers_and_a_nan():
    band = noisy_band(frames=9, rows=15, cols=20, seed=4)
    band[2, 10, 10] = 400.0
    band[5, 12, 3] = -300.0
    band[1, 0, 0] = np.nan

    mask = sigma_clip_mask(band, sigma_low=2.0, sigma_high=2.5)

    np.testing.assert_array_equal(mask, astropy_mask(band, 2.0, 2.5))
    assert mask[2, 10, 10] and mask[5, 12, 3] and not mask[1, 0, 0]
    assert mask.sum() > 10  # the test exercises real clipping, not only the two outliers


def test_minmax_rejects_lowest_and_highest_finite_sample():
    band = noisy_band(frames=6, seed=1)
    band[0, 2, 2] = np.nan
    band[:, 3, 3] = np.nan
    band[2:, 3, 3] = [1.0, 2.0, 3.0, 4.0]
    band[:4, 4, 4] = np.nan  # only two finite samples: nothing rejected

    mask = minmax_mask(band)
    combined = combine_band(band, "mean", mask)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ordered = np.sort(band.astype(np.float64), axis=0)  # NaNs sort last
        finite_count = np.isfinite(band).sum(axis=0)
    for row in range(band.shape[1]):
        for col in range(band.shape[2]):
            samples = ordered[: finite_count[row, col], row, col]
            kept = samples[1:-1] if len(samples) >= 3 else samples
            assert combined[row, col] == pytest.approx(kept.mean(), rel=1e-6)
    assert mask.sum(axis=0)[2, 2] == 2 and not mask[0, 2, 2]
    assert combined[3, 3] == pytest.approx(2.5)
    assert not mask[:, 4, 4].any()


def test_minmax_rejects_two_samples_even_when_all_are_equal():
    band = np.full((4, 2, 2), 7.0, dtype=np.float32)
    assert (minmax_mask(band).sum(axis=0) == 2).all()


def test_median_and_sum_of_kept_samples():
    band = noisy_band(frames=5, seed=2)
    band[1, 0, 0] = 9000.0
    band[4, 1, 1] = np.nan
    mask = rejection_mask(band, "sigma_clip", sigma_low=3.0, sigma_high=3.0)
    kept = np.where(mask, np.nan, band)

    median = combine_band(band, "median", mask)
    total = combine_band(band, "sum", mask)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(median, np.nanmedian(kept, axis=0).astype(np.float32))
    full = np.isfinite(kept).all(axis=0)
    np.testing.assert_allclose(total[full], kept.astype(np.float64).sum(axis=0)[full], rtol=1e-6)
    # A rejected or missing sample is replaced by the mean of the others.
    assert total[0, 0] == pytest.approx(np.mean(np.delete(band[:, 0, 0], 1).astype(np.float64)) * 5, rel=1e-6)
    assert total[1, 1] == pytest.approx(np.mean(band[:4, 1, 1].astype(np.float64)) * 5, rel=1e-6)


def test_nan_samples_are_missing_not_rejected_and_all_nan_pixels_stay_nan():
    band = noisy_band(frames=5, seed=3)
    band[:, 6, 6] = np.nan
    band[2, 7, 7] = np.nan
    mask = sigma_clip_mask(band)
    assert not mask[:, 6, 6].any() and not mask[2, 7, 7]
    for method in ("mean", "median", "sum"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning escapes the kernels
            combined = combine_band(band, method, mask)
        assert np.isnan(combined[6, 6])
        assert np.isfinite(combined[7, 7])


def test_plain_sum_is_nan_wherever_a_frame_is_missing():
    band = noisy_band(frames=3, seed=5)
    band[1, 2, 3] = np.nan
    summed = sum_band(band)
    expected = band.astype(np.float64).sum(axis=0).astype(np.float32)
    np.testing.assert_array_equal(summed, expected)
    assert np.isnan(summed[2, 3])


def test_unknown_method_and_rejection_are_refused():
    band = noisy_band(frames=3)
    with pytest.raises(ValueError, match="Unknown method 'average'"):
        combine_band(band, "average")
    with pytest.raises(ValueError, match="Unknown rejection 'clip'"):
        rejection_mask(band, "clip")
    assert rejection_mask(band, "none") is None


@pytest.mark.parametrize("frames", [3, 10, 30])
def test_sigma_clip_matches_astropy_over_many_blocks(frames):
    """Several blocks of the C kernel and a partial one; cosmic rays, a NaN, wide tails; every pixel checked."""
    rng = np.random.default_rng(frames)
    band = rng.normal(100.0, 5.0, size=(frames, 2, 300)).astype(np.float32)
    band[:, 1] += rng.standard_cauchy(size=(frames, 300)).astype(np.float32)  # heavy tails: many iterations
    band[rng.random(band.shape) < 0.01] = 5000.0
    band[0, 0, 7] = np.nan

    mask = sigma_clip_mask(band, sigma_low=2.5, sigma_high=2.0, max_iterations=10)

    np.testing.assert_array_equal(mask, astropy_mask(band, 2.5, 2.0, maxiters=10))
    assert mask[:, 1].any(axis=0).mean() > 0.3  # the tails really were clipped


def test_sigma_clip_refuses_bad_arguments():
    band = noisy_band(frames=3)
    with pytest.raises(ValueError, match="sigma_low and sigma_high must be positive"):
        sigma_clip_mask(band, sigma_low=0.0)
    with pytest.raises(ValueError, match="max_iterations must be at least 1"):
        sigma_clip_mask(band, max_iterations=0)


def test_sigma_clip_kernel_refuses_bad_buffers(kernel_path):
    if kernel_path != "compiled":
        pytest.skip("checks the C module's own argument checks")
    from data_operations.kernels._network import sigma_clip as c_sigma_clip

    from data_operations.kernels.median import network_table

    planes = np.zeros((3, 10), dtype=np.float32)
    mask = np.empty((3, 10), dtype=bool)
    with pytest.raises(ValueError, match="sigma_low and sigma_high must be positive"):
        c_sigma_clip(planes, network_table(3, sort=True), network_table(3), 0.0, 3.0, 10, mask)
    with pytest.raises(ValueError, match="mask must be bool with one value per sample"):
        c_sigma_clip(planes, network_table(3, sort=True), network_table(3), 3.0, 3.0, 10, mask[:2])
    with pytest.raises(ValueError, match="network names a wire outside the planes"):
        c_sigma_clip(planes, network_table(4, sort=True), network_table(3), 3.0, 3.0, 10, mask)


@pytest.mark.parametrize("frames", [1, 3, 10, 30])
def test_mean_and_sum_equal_numpy_float64_reductions(frames):
    """Kept samples summed in float64 in frame order: bit-identical to numpy's masked add.reduce."""
    rng = np.random.default_rng(frames)
    band = rng.normal(100.0, 50.0, size=(frames, 9, 333)).astype(np.float32)
    band[rng.random(band.shape) < 0.05] = np.nan
    band[rng.random(band.shape) < 0.01] = np.inf
    band[rng.random(band.shape) < 0.01] = -np.inf
    band[:, 0, 0] = np.nan
    for rejected in (None, sigma_clip_mask(band)):
        keep = np.isfinite(band) if rejected is None else np.isfinite(band) & ~rejected
        kept = np.count_nonzero(keep, axis=0)
        total = np.add.reduce(band, axis=0, dtype=np.float64, where=keep, initial=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (total / kept).astype(np.float32)
            plain_or_scaled = np.where(kept == frames, total, total / kept * frames).astype(np.float32)
        np.testing.assert_array_equal(combine_band(band, "mean", rejected), mean)
        np.testing.assert_array_equal(combine_band(band, "sum", rejected), plain_or_scaled)
        assert np.isnan(combine_band(band, "mean", rejected)[0, 0])
