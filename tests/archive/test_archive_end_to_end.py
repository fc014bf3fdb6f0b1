"""The archive client against the embedded local archive over real HTTP (Django's live server)."""
from __future__ import annotations

import hashlib

import pytest
from rest_framework.authtoken.models import Token

from data_operations.errors import OperationError
from datalab.archive import client as archive_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_archive(live_server, settings):
    settings.ARCHIVE_API = f"{live_server.url}/archive/"
    settings.ARCHIVE_API_TOKEN = ""
    settings.ARCHIVE_TIMEOUT_SECONDS = 5
    settings.ARCHIVE_MAX_RETRIES = 0
    return settings


def token_of(django_user_model, username: str, proposals: list[str]) -> str:
    user = django_user_model.objects.create_user(username=username, password=f"pw-{username}-12345")
    user.profile.archive_proposals = proposals
    user.profile.save()
    return Token.objects.create(user=user).key


def test_public_frame_and_headers_need_no_token(live_archive, local_frames):
    frame = local_frames.public_rp
    path = archive_client.fetch_frame(basename=frame.basename, token=None)
    assert hashlib.md5(path.read_bytes()).hexdigest() == frame.md5
    headers = archive_client.frame_headers(frame_id=frame.id, token=None)
    assert (headers["FILTER"], headers["PROPID"]) == ("rp", frame.proposal_id)


def test_proprietary_frame_reaches_members_only_even_when_cached(
    live_archive, local_frames, django_user_model,
):
    frame = local_frames.proprietary
    member_token = token_of(django_user_model, "alice", [frame.proposal_id])
    stranger_token = token_of(django_user_model, "bob", ["LCO2026B-999"])
    member_path = archive_client.fetch_frame(basename=frame.basename, token=member_token)
    assert hashlib.md5(member_path.read_bytes()).hexdigest() == frame.md5
    for token in (stranger_token, None):
        with pytest.raises(OperationError) as raised:
            archive_client.fetch_frame(basename=frame.basename, token=token)
        assert str(raised.value) == (f"The archive could not find frame {frame.basename}, "
                                     "or it is not visible with your archive token.")
        with pytest.raises(OperationError):
            archive_client.frame_headers(frame_id=frame.id, token=token)
