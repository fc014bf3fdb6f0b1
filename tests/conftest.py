"""Fixtures shared by the whole suite: users, authenticated API clients, private directories."""
from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.s3_storage import MotoServer, S3Outputs, new_bucket_name


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


@pytest.fixture(autouse=True)
def offline_gaia(settings):
    """Gaia cones come from the synthetic fixture unless a test points the service elsewhere."""
    settings.DATALAB_GAIA_PROVIDER = f"fixture:{Path(__file__).parent / 'fixtures' / 'gaia_cluster_synthetic.ecsv'}"


@pytest.fixture(autouse=True)
def private_cache(settings, tmp_path):
    """Every test counts logins and remembers archive rights in a cache of its own (never the shared Redis)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"test-{tmp_path.name}"}}


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """Passwords hashed with few PBKDF2 iterations (tests/password_hashing.py); verified as ever."""
    settings.PASSWORD_HASHERS = ["tests.password_hashing.QuickPBKDF2PasswordHasher",
                                 *settings.PASSWORD_HASHERS]


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


KERNEL_PATHS_MARKER = "kernel_paths"


def pytest_configure(config):
    config.addinivalue_line("markers", f"{KERNEL_PATHS_MARKER}: runs once per kernel path (set on every test "
                                       "that takes the kernel_path fixture)")


def pytest_collection_modifyitems(items):
    """Mark the tests that run on both kernel paths, so a run that forces the numpy fallback for
    everything can leave them out (``-m 'not kernel_paths'``): their numpy case ran already."""
    for item in items:
        if "kernel_path" in getattr(item, "fixturenames", ()):
            item.add_marker(KERNEL_PATHS_MARKER)


@pytest.fixture(params=["compiled", "numpy"])
def kernel_path(request, monkeypatch):
    """Run a test once on the C kernels and decoder, once on the numpy fallback (which must agree).

    In a run that forces the fallback for everything (``DATALAB_PURE_PYTHON_KERNELS=1``) the compiled
    case is skipped; where the C modules were not built it is skipped too, saying so.
    """
    from data_operations.native import PURE_PYTHON_VARIABLE, compiled_kernels_in_use, pure_python_forced

    if request.param == "numpy":
        monkeypatch.setenv(PURE_PYTHON_VARIABLE, "1")
    elif pure_python_forced():
        pytest.skip("the pure-Python kernels are forced for this whole run")
    elif not all(compiled_kernels_in_use().values()):
        pytest.skip("the C kernels are not built on this machine")
    return request.param


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def s3_outputs(moto_server, settings) -> S3Outputs:
    """Outputs stored in a fresh bucket of a real S3 API on loopback, for this process and (through
    ``s3_outputs.env``) for the worker and web processes a test starts."""
    outputs = S3Outputs(server=moto_server, bucket=new_bucket_name(), presign_ttl_seconds=300)
    settings.OUTPUT_STORAGE = "s3"
    settings.OUTPUT_REDIRECT_TTL_SECONDS = outputs.presign_ttl_seconds
    settings.STORAGES = outputs.storages(settings.STORAGES)
    return outputs
