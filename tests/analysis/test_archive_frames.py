"""Archive frames are analysed only with the user's own archive rights (embedded archive over HTTP)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from conftest import post

from datalab.local_archive.indexing import index_directory
from datalab.local_archive.synthetic import make_frame, write_frame

pytestmark = pytest.mark.django_db(transaction=True)

PRIVATE_PROPOSAL = "LCO2026B-777"
OBSERVED = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def archive(live_server, settings):
    settings.ARCHIVE_API = f"{live_server.url}/archive/"
    settings.ARCHIVE_API_TOKEN = ""
    settings.ARCHIVE_TIMEOUT_SECONDS = 5
    settings.ARCHIVE_MAX_RETRIES = 0
    frames = {}
    for number, public_date in ((1, OBSERVED), (2, datetime.now(timezone.utc) + timedelta(days=200))):
        basename = f"tst1m001-fa01-20260105-{number:04d}-e91"
        hdul = make_frame(shape=(48, 64), seed=number, n_stars=5, basename=basename, observation_date=OBSERVED,
                          public_date=public_date, proposal_id=PRIVATE_PROPOSAL)
        write_frame(hdul, settings.LOCAL_ARCHIVE_DIR / f"{basename}.fits.fz")
        frames["public" if number == 1 else "private"] = (basename, hdul["SCI"].header)
    index_directory()
    return frames


def test_member_analyses_a_proprietary_frame_and_a_stranger_gets_404(archive, owner, owner_api, stranger_api):
    owner.profile.archive_token = "ada-archive-token"
    owner.profile.archive_proposals = [PRIVATE_PROPOSAL]
    owner.profile.save()
    basename, header = archive["private"]
    answer = post(owner_api, "wcs", {"basename": basename, "source": "archive"}).json()
    assert answer["fits_dimensions"] == [64, 48]
    assert answer["crval"] == pytest.approx([header["CRVAL1"], header["CRVAL2"]], rel=1e-12)

    # The stranger asks for the very frame whose products are now cached: the archive still decides.
    response = post(stranger_api, "raw-data", {"basename": basename, "source": "archive", "max_size": 8})
    assert response.status_code == 404
    assert response.json() == {"error": f"The archive could not find frame {basename}, "
                                        "or it is not visible with your archive token."}


def test_public_frame_is_open_to_everyone(archive, stranger_api):
    basename, header = archive["public"]
    data = post(stranger_api, "headers", {"basename": basename}).json()["data"]  # source defaults to archive
    assert (data["PROPID"], data["NAXIS2"]) == (PRIVATE_PROPOSAL, 48)
