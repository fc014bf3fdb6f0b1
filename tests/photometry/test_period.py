"""T9 and T10: the explicit frequency grid finds a 0.3 d period where astropy's automatic grid cannot."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.timeseries import LombScargle

from data_operations.photometry.period import PeriodSearchSkipped, display_indices, frequency_grid, search


def sparse_series(seed: int = 11, period: float = 0.3):
    """40 epochs, one per night on distinct nights out of 60, 0.3 mag sine, 0.01 mag noise."""
    rng = np.random.default_rng(seed)
    nights = np.sort(rng.choice(60, size=40, replace=False))
    times = 2461345.5 + nights + rng.uniform(0.6, 0.9, nights.size)
    mag = 14.0 + 0.3 * np.sin(2 * np.pi * times / period) + rng.normal(0, 0.01, times.size)
    return times, mag, np.full(times.size, 0.01)


def test_sparse_sampling_recovers_the_short_period():
    times, mag, magerr = sparse_series()
    baseline = times.max() - times.min()

    found = search(times, mag, magerr)

    assert abs(found.period - 0.3) <= 0.25 * 0.3 ** 2 / baseline
    assert found.fap < 1e-6
    assert found.max_frequency >= 10.0
    # The automatic grid stops at 2.5 N / T and reports an alias instead.
    automatic_frequency, automatic_power = LombScargle(times, mag, magerr).autopower()
    assert automatic_frequency.max() < 1.0 / 0.3
    assert abs(1 / automatic_frequency[np.argmax(automatic_power)] - 0.3) > 0.1


def test_two_term_model_finds_the_same_period():
    times, mag, magerr = sparse_series(seed=5)
    found = search(times, mag, magerr, nterms=2)
    assert abs(found.period - 0.3) <= 0.25 * 0.09 / (times.max() - times.min())
    assert found.nterms == 2 and 0.0 <= found.fap < 1e-6


def test_seven_points_are_not_searched():
    times, mag, magerr = sparse_series()
    magerr[7:] = np.nan
    with pytest.raises(PeriodSearchSkipped) as skipped:
        search(times, mag, magerr)
    assert str(skipped.value) == "No period was searched: 7 usable points, 8 are needed."


def test_long_baselines_keep_the_grid_bounded():
    grid, samples = frequency_grid(3650.0)
    assert grid.size <= 50_000 and samples >= 3
    assert grid[0] == pytest.approx(1 / 3650.0)
    assert np.allclose(np.diff(grid), 1 / (samples * 3650.0))


def test_display_keeps_the_strongest_peak():
    power = np.random.default_rng(1).uniform(0, 0.2, 30_001)
    power[12_345] = 0.97
    shown = display_indices(power.size, 2000, power)
    assert shown.size == 2000
    assert 12_345 in shown and np.all(np.diff(shown) > 0)
