"""Fixtures shared by the whole suite: users, authenticated API clients, private directories."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def private_dirs(settings, tmp_path):
    """Every test writes outputs, caches and archive files under its own temp directory."""
    settings.MEDIA_ROOT = tmp_path / "outputs"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "outputs")},
        },
    }
    settings.FRAME_CACHE_DIR = tmp_path / "frame_cache"
    settings.LOCAL_ARCHIVE_DIR = tmp_path / "archive"
    settings.OPERATION_TEMP_DIR = tmp_path / "op_tmp"
    return tmp_path


def _client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(username="ada", password="pw-ada-12345")


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user(username="mallory", password="pw-mallory-12345")


@pytest.fixture
def owner_api(owner) -> APIClient:
    return _client_for(owner)


@pytest.fixture
def stranger_api(stranger) -> APIClient:
    return _client_for(stranger)
