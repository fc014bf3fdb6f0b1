"""Frames for the analysis tests, stored as the owner's own outputs (``source: "datalab"``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datalab.datalab_session.models import OutputFile
from datalab.local_archive.synthetic import make_frame, render_stars

STAR_COLUMN, STAR_ROW = 40.3, 70.6  # 0-based FITS position of the injected star
STAR_FLUX, STAR_FWHM = 60000.0, 3.0


@pytest.fixture(autouse=True)
def analysis_cache_dir(settings, tmp_path):
    settings.ANALYSIS_CACHE_DIR = tmp_path / "analysis_cache"
    return settings.ANALYSIS_CACHE_DIR


def star_frame(*, shape=(96, 128), with_catalog: bool = True, seed: int = 7) -> fits.HDUList:
    """A frame with sky and noise and one bright star at (STAR_COLUMN, STAR_ROW), nothing else."""
    hdul = make_frame(shape=shape, seed=seed, n_stars=0, cosmic_rays=False, sky_level=200.0)
    data = np.array(hdul["SCI"].data, dtype=np.float32)
    render_stars(data, x=np.array([STAR_COLUMN]), y=np.array([STAR_ROW]), flux=np.array([STAR_FLUX]),
                 fwhm_pixels=STAR_FWHM)
    science = fits.ImageHDU(data=data, header=hdul["SCI"].header, name="SCI")
    extensions = [fits.PrimaryHDU(), science]
    if with_catalog:
        extensions.append(hdul["CAT"])
    return fits.HDUList(extensions)


def store_output(user, hdul: fits.HDUList, basename: str, tmp_path: Path) -> OutputFile:
    path = tmp_path / f"{basename}.fits"
    hdul.writeto(path, overwrite=True)
    name = default_storage.save(f"outputs/{user.pk}/{basename}.fits", ContentFile(path.read_bytes()))
    return OutputFile.objects.create(user=user, basename=basename, fits_name=name)


@pytest.fixture
def star_output(owner, tmp_path) -> tuple[str, np.ndarray, fits.Header]:
    """The owner's output with the star frame: (basename, SCI pixels, SCI header)."""
    hdul = star_frame()
    store_output(owner, hdul, "datalab-star-1", tmp_path)
    return "datalab-star-1", np.asarray(hdul["SCI"].data), hdul["SCI"].header


def post(api, action: str, body: dict):
    return api.post(f"/api/analysis/{action}/", body, format="json")
