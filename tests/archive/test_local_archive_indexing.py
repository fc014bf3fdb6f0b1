"""Indexing files into the local archive, and the demo-set command."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from django.core.management import call_command

from data_operations.analysis.sky import json_value as json_safe
from datalab.local_archive.indexing import index_directory, index_file
from datalab.local_archive.models import ArchiveFrame
from datalab.local_archive.synthetic import make_frame, write_frame

pytestmark = pytest.mark.django_db


def tiny_frame(seed: int) -> fits.HDUList:
    return make_frame(shape=(32, 32), seed=seed, n_stars=3)


def test_index_file_reads_headers_footprint_and_checksum(settings):
    path = write_frame(make_frame(shape=(100, 200), seed=2, n_stars=5, ra=10.0, dec=-20.0),
                       settings.LOCAL_ARCHIVE_DIR / "night1" / "tst1m011-fa01-20261101-0001-e91.fits.fz")
    frame = index_file(path)
    assert (frame.basename, frame.path) == ("tst1m011-fa01-20261101-0001-e91",
                                            "night1/tst1m011-fa01-20261101-0001-e91.fits.fz")
    assert frame.size == path.stat().st_size and len(frame.md5) == 32
    assert frame.ra == pytest.approx(10.0, abs=1e-6) and frame.dec == pytest.approx(-20.0, abs=1e-6)
    corners = np.array(frame.area["coordinates"][0])
    assert corners.shape == (5, 2) and (corners[0] == corners[-1]).all()
    assert frame.dec_min < -20.0 < frame.dec_max
    assert frame.headers["OBJECT"] == "M51" and frame.headers["NAXIS1"] == 200


def test_reindexing_updates_in_place_and_prunes_vanished_files(settings):
    root = settings.LOCAL_ARCHIVE_DIR
    first = write_frame(tiny_frame(1), root / "a1m011-fa01-20261101-0001-e91.fits.fz")
    second = write_frame(tiny_frame(2), root / "a1m011-fa01-20261101-0002-e91.fits.fz")
    (root / "notes.txt").write_text("not a frame")
    original = {frame.basename: frame for frame in index_directory()}
    assert len(original) == 2
    write_frame(tiny_frame(3), first)
    second.unlink()
    reindexed = index_directory()
    assert [frame.basename for frame in reindexed] == ["a1m011-fa01-20261101-0001-e91"]
    assert reindexed[0].id == original["a1m011-fa01-20261101-0001-e91"].id
    assert reindexed[0].md5 != original["a1m011-fa01-20261101-0001-e91"].md5
    assert ArchiveFrame.objects.count() == 1


def test_frame_without_wcs_and_with_odd_header_values_is_indexed(settings):
    header = fits.Header({"FILTER": "V", "OBJECT": "odd", "EXPTIME": "n/a", "L1PUBDAT": "garbage"})
    science = fits.ImageHDU(np.zeros((8, 8), dtype=np.int16), header, name="SCI")
    hdul = fits.HDUList([fits.PrimaryHDU(), science])
    path = settings.LOCAL_ARCHIVE_DIR / "odd-frame.fits"
    write_frame(hdul, path)
    frame = index_file(path)
    assert frame.area is None and frame.ra is None
    assert frame.exposure_time is None and frame.headers["EXPTIME"] == "n/a"
    assert frame.public_date is None and frame.primary_optical_element == "V"


def test_generate_demo_frames_is_idempotent(settings, capsys):
    call_command("generate_demo_frames", night="2026-11-30", size=64, seed=3)
    first_output = capsys.readouterr().out
    made = sorted(path.name for path in settings.LOCAL_ARCHIVE_DIR.glob("*.fits.fz"))
    assert len(made) == 36 and ArchiveFrame.objects.count() == 36
    assert all(name.removesuffix(".fits.fz") in first_output for name in made)
    md5s = dict(ArchiveFrame.objects.values_list("basename", "md5"))
    call_command("generate_demo_frames", size=64, seed=3, force=True)  # the recorded night again
    assert "written" in capsys.readouterr().out
    assert dict(ArchiveFrame.objects.values_list("basename", "md5")) == md5s  # same bytes again
    call_command("generate_demo_frames", size=64, seed=3)
    assert capsys.readouterr().out.count("exists") == 36 + 1  # the frames and the Gaia catalogue
    assert ArchiveFrame.objects.count() == 36
    assert ArchiveFrame.objects.public().count() >= 1 and ArchiveFrame.objects.proprietary().count() >= 1


def test_index_archive_command(settings, capsys):
    write_frame(tiny_frame(1), settings.LOCAL_ARCHIVE_DIR / "b1m011-fa01-20261101-0001-e91.fits.fz")
    call_command("index_archive")
    assert "Indexed 1 frame(s)" in capsys.readouterr().out
    assert ArchiveFrame.objects.get().basename == "b1m011-fa01-20261101-0001-e91"


def test_header_values_become_json_safe():
    assert json_safe(float("nan")) is None and json_safe(np.float32("inf")) is None
    assert json_safe(np.float32(1.5)) == 1.5 and json_safe(np.int16(3)) == 3 and json_safe(True) is True
    assert json_safe(fits.card.UNDEFINED) is None
