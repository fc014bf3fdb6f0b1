"""Analysis decodes through the operations' frame reader: damaged compressed frames get a sentence.

astropy's own decoder crashes the process on a negative ZDITHER0; the analysis path must refuse
such a file (and truncated tiles or lying sizes) with a 400 and the same sentence an operation gives.
An fpack file whose image has no EXTNAME is analysed like any other frame.
"""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from conftest import post
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from malformed_frames import MALFORMED, good_rice_frame

from data_operations.analysis.resample import area_average
from datalab.datalab_session.models import OutputFile

pytestmark = pytest.mark.django_db


def store_bytes(user, basename: str, payload: bytes) -> None:
    name = default_storage.save(f"outputs/{user.pk}/{basename}.fits", ContentFile(payload))
    OutputFile.objects.create(user=user, basename=basename, fits_name=name)


@pytest.mark.parametrize("damage", list(MALFORMED))
def test_damaged_frames_are_a_400_with_the_readers_sentence(owner, owner_api, tmp_path, damage, kernel_path):
    make_bad, message = MALFORMED[damage]
    path = make_bad(good_rice_frame(tmp_path / "bad.fits.fz"))
    store_bytes(owner, "datalab-bad", path.read_bytes())
    extra = {"max_size": 16, "width": 140, "height": 82, "zmin": 400, "zmax": 600}
    for action in ("raw-data", "source-catalog", "get-jpg"):
        response = post(owner_api, action, {"basename": "datalab-bad", "source": "datalab", **extra})
        assert response.status_code == 400, (action, response.content[:200])
        assert response.json() == {"error": f"Frame datalab-bad {message}"}


def test_fpack_frame_without_extname_is_analysed(owner, owner_api, tmp_path, kernel_path):
    path = good_rice_frame(tmp_path / "plain.fits.fz", extname=None)
    with fits.open(path) as hdul:
        pixels = np.asarray(hdul[1].data, dtype=np.float64)
    store_bytes(owner, "datalab-plain", path.read_bytes())
    response = post(owner_api, "raw-data", {"basename": "datalab-plain", "source": "datalab", "max_size": 41})
    assert response.status_code == 200
    values = np.array([np.nan if value is None else value for value in response.json()["data"]], dtype=np.float64)
    # the 41 x 41 block average of astropy's own decoding of the pixels, top row first, NaN as null
    expected = area_average(pixels.astype(np.float32), (41, 41))[::-1]
    np.testing.assert_allclose(values.reshape(41, 41), expected, atol=0.006)


def test_infinite_pixels_are_missing_in_analysis_too(owner, owner_api, tmp_path):
    data = np.full((20, 30), 100.0, dtype=np.float32)
    data[4, 5] = np.inf
    data[10, 10] = -np.inf
    path = tmp_path / "inf.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, name="SCI")]).writeto(path)
    store_bytes(owner, "datalab-inf", path.read_bytes())
    response = post(owner_api, "raw-data", {"basename": "datalab-inf", "source": "datalab", "max_size": 30})
    assert response.status_code == 200
    values = response.json()["data"]
    assert values.count(None) == 2 and set(values) - {None} == {100.0}
