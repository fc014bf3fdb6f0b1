"""Frames in the local archive, made the same way as for the end-to-end tests."""
from tests.e2e.conftest import archive_frames  # noqa: F401 - re-exported fixture
