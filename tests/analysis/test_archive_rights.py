"""Analysis of archive frames: the embedded archive is asked in-process, a remote one at most once a minute."""
from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.core.cache import cache

from datalab.local_archive.indexing import index_directory
from datalab.local_archive.synthetic import make_frame, write_frame
from tests.analysis.conftest import post

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "archive"))
from archive_fakes import FakeArchive, tiny_fits_bytes  # noqa: E402

pytestmark = pytest.mark.django_db

PROPOSAL = "LCO2026B-321"
OBSERVED = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def remote_archive(settings):
    archive = FakeArchive()
    archive.thread.start()
    settings.ARCHIVE_API = archive.base_url
    settings.ARCHIVE_API_TOKEN = ""
    settings.ARCHIVE_TIMEOUT_SECONDS = 2
    settings.ARCHIVE_MAX_RETRIES = 0
    yield archive
    archive.server.shutdown()
    archive.server.server_close()


def test_a_users_rights_to_a_remote_frame_are_remembered(remote_archive, settings, owner, owner_api, stranger_api):
    owner.profile.archive_token = "ada-archive-token"
    owner.profile.save()
    remote_archive.add_frame("tst1m001-fa01-20260105-0007-e91", tiny_fits_bytes(seed=3),
                             visible_to={"ada-archive-token"})
    body = {"basename": "tst1m001-fa01-20260105-0007-e91", "source": "archive"}
    first = post(owner_api, "headers", body)
    assert first.status_code == 200, first.json()
    assert (remote_archive.hits["list"], remote_archive.hits["download"]) == (1, 1)
    for _ in range(3):
        assert post(owner_api, "headers", body).json() == first.json()
    assert (remote_archive.hits["list"], remote_archive.hits["download"]) == (1, 1)  # cached file, cached rights

    # Another user's rights are their own: the archive is asked, and says no.
    refused = post(stranger_api, "headers", body)
    assert refused.status_code == 404
    assert refused.json() == {"error": "The archive could not find frame tst1m001-fa01-20260105-0007-e91, "
                                       "or it is not visible with your archive token."}
    assert remote_archive.hits["list"] == 2

    # Once remembered rights expire, the archive decides again (here: revoked).
    settings.ARCHIVE_RIGHTS_CACHE_SECONDS = 0
    cache.clear()
    remote_archive.frames["tst1m001-fa01-20260105-0007-e91"].visible_to = {"someone-else"}
    assert post(owner_api, "headers", body).status_code == 404
    assert remote_archive.hits["list"] == 3


def test_the_embedded_archive_is_consulted_in_process(settings, owner, owner_api, stranger_api):
    # Nothing listens on the discard port: an HTTP call to the archive could only fail.
    settings.ARCHIVE_API = "http://127.0.0.1:9/archive/"
    settings.ARCHIVE_TIMEOUT_SECONDS = 1
    settings.ARCHIVE_MAX_RETRIES = 0
    basename = "tst1m001-fa01-20260105-0002-e91"
    hdul = make_frame(shape=(48, 64), seed=2, n_stars=5, basename=basename, observation_date=OBSERVED,
                      public_date=datetime.now(timezone.utc) + timedelta(days=200), proposal_id=PROPOSAL)
    write_frame(hdul, settings.LOCAL_ARCHIVE_DIR / f"{basename}.fits.fz")
    index_directory()
    owner.profile.archive_token = "ada-archive-token"
    owner.profile.archive_proposals = [PROPOSAL]
    owner.profile.save()

    answer = post(owner_api, "headers", {"basename": basename, "source": "archive"})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["data"]["PROPID"] == PROPOSAL
    refused = post(stranger_api, "headers", {"basename": basename, "source": "archive"})
    assert refused.status_code == 404
    assert refused.json() == {"error": f"The archive could not find frame {basename}, "
                                       "or it is not visible with your archive token."}
