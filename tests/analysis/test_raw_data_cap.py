"""raw-data never upscales: a max_size above the frame's size answers at the frame's size."""
from __future__ import annotations

import numpy as np
import pytest

from tests.analysis.conftest import post

pytestmark = pytest.mark.django_db


def test_max_size_is_capped_at_the_frame_size(owner_api, star_output, analysis_cache_dir):
    basename, data, _ = star_output  # 96 rows x 128 columns
    large = post(owner_api, "raw-data", {"basename": basename, "source": "datalab", "max_size": 2048})
    assert large.status_code == 200
    answer = large.json()
    assert len(answer["data"]) == 128 * 128
    # Rows are stretched 96 -> 128 by area averaging; columns stay the frame's own pixels.
    expected = np.repeat(data.astype(np.float64), 4, axis=0).reshape(128, 3, 128).mean(axis=1)[::-1]
    np.testing.assert_allclose(np.array(answer["data"], dtype=float).reshape(128, 128), expected, atol=0.006)
    same = post(owner_api, "raw-data", {"basename": basename, "source": "datalab", "max_size": 128})
    assert same.content == large.content
    # One cached product serves every size above the frame.
    assert [p.name.split(".")[1] for p in analysis_cache_dir.glob("*.raw-*.json")] == ["raw-128"]
