"""Client tests reuse the end-to-end fixtures: the live server, real worker processes, archive frames."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from tests.e2e.conftest import archive_frames, public_base_url, start_worker  # noqa: F401  (fixtures)


@pytest.fixture
def token(owner) -> str:
    return Token.objects.create(user=owner).key


@pytest.fixture
def stranger_token(stranger) -> str:
    return Token.objects.create(user=stranger).key
