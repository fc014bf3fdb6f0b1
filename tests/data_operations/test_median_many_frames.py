"""The median of hundreds of frames: the selection network up to NETWORK_MAX_FRAMES, the sort beyond."""
import numpy as np
import pytest

from data_operations.kernels.median import NETWORK_MAX_FRAMES, nanmedian_band


@pytest.mark.parametrize("frames", [129, 200, NETWORK_MAX_FRAMES, NETWORK_MAX_FRAMES + 1, 301])
def test_median_of_many_frames_equals_numpy(frames):
    rng = np.random.default_rng(frames)
    band = rng.integers(-50, 50, size=(frames, 2, 300)).astype(np.float32)  # ties
    band[:, 1] = rng.standard_cauchy(size=(frames, 300)).astype(np.float32)
    band[rng.random(band.shape) < 0.003] = np.nan
    band[:, 0, 7] = np.nan  # a pixel with no finite sample
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="All-NaN slice"):
        expected = np.nanmedian(band, axis=0)
    np.testing.assert_array_equal(nanmedian_band(band), expected)
