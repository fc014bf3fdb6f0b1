"""A real S3 API on loopback for tests: moto's server mode in its own process, one bucket per test.

Outputs are stored with django-storages' S3 backend exactly as in production (MinIO or AWS), so
the redirects to presigned links, CORS and deletion are exercised over HTTP. Note: moto does not
check presigned signatures or expiry times; tests check the expiry a presigned link carries.
"""
from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

from tests.private_services import free_port

ACCESS_KEY, SECRET_KEY, REGION = "datalab-test-key", "datalab-test-secret", "us-east-1"


class MotoServer:
    """``python -m moto.server`` on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> MotoServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.endpoint}/moto-api/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto's S3 server did not start within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)


@dataclass
class S3Outputs:
    """One test's bucket on the moto server, and how to point settings and processes at it."""

    server: MotoServer
    bucket: str
    presign_ttl_seconds: int
    client: Any = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.server.client()
        self.client.create_bucket(Bucket=self.bucket)

    def storages(self, current: dict[str, Any]) -> dict[str, Any]:
        """``STORAGES`` with the default storage in this bucket (as datalab.settings builds it)."""
        return {**current, "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": self.bucket, "endpoint_url": self.server.endpoint, "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY, "region_name": REGION, "querystring_auth": True,
            "querystring_expire": self.presign_ttl_seconds, "file_overwrite": True,
        }}}

    @property
    def env(self) -> dict[str, str]:
        """Environment for a worker or web process storing its outputs here."""
        return {
            "OUTPUT_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.server.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION,
            "OUTPUT_REDIRECT_TTL_SECONDS": str(self.presign_ttl_seconds),
        }

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))


def new_bucket_name() -> str:
    return f"datalab-test-{secrets.token_hex(6)}"
