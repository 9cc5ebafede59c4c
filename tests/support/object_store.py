"""A real S3-compatible server on 127.0.0.1 for the object-storage tests.

`.ci/run` starts moto's standalone server and names it in HEYGEM_TEST_S3_ENDPOINT; without
that, the first test that needs one starts `moto_server` itself (a separate process, for the
whole session). Each test gets its own bucket, and the project's default storage switched to
django-storages' S3Storage on it, exactly as STORAGE_BACKEND=s3 configures it.

Browsers reach the store at another address than the servers do (the public endpoint): a
small TCP relay on a second 127.0.0.1 port plays that address, so a presigned URL that was
signed for the internal endpoint would show it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "heygem-test"
SECRET_KEY = "heygem-test-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_up(endpoint: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class _Relay:
    """Forwards a 127.0.0.1 port to another: the store's "public" address in the tests."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@dataclass
class ObjectStore:
    endpoint: str  # what the web process and workers use
    public_endpoint: str  # what browsers use (presigned URLs)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    endpoint = os.environ.get("HEYGEM_TEST_S3_ENDPOINT", "").rstrip("/")
    process = None
    if not endpoint:
        port = _free_port()
        log = tmp_path_factory.mktemp("moto") / "moto.log"
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("moto_server")),
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        endpoint = f"http://127.0.0.1:{port}"
    _wait_up(endpoint)
    relay = _Relay(int(endpoint.rsplit(":", 1)[1]))
    try:
        yield ObjectStore(endpoint=endpoint, public_endpoint=f"http://127.0.0.1:{relay.port}")
    finally:
        relay.listener.close()
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


def s3_settings(store: ObjectStore, bucket: str) -> dict[str, Any]:
    """Django's default storage as STORAGE_BACKEND=s3 makes it, for this bucket on the test
    server (the S3 store builds it, as it does for settings)."""
    from jobs.storage.stores import django_storage

    return django_storage("s3", _s3_conf(store, bucket))


def _s3_conf(store: ObjectStore, bucket: str) -> dict[str, Any]:
    return {
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": store.endpoint,
        "S3_PUBLIC_ENDPOINT_URL": store.public_endpoint,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "S3_ADDRESSING_STYLE": "path",
    }


def s3_env(store: ObjectStore, bucket: str) -> dict[str, str]:
    """The environment that puts a child process (a worker host) on this bucket."""
    return {"STORAGE_BACKEND": "s3", **_s3_conf(store, bucket)}


@pytest.fixture
def s3_bucket(object_store: ObjectStore, settings: Any) -> Iterator[str]:
    """Switch this test's default storage to a new bucket on the S3 server (caches too)."""
    from jobs.storage.files import StoredCache
    from rendering.cache import use_remote

    bucket = f"heygem-{uuid.uuid4().hex[:12]}"
    object_store.client().create_bucket(Bucket=bucket)
    settings.STORAGE_BACKEND = "s3"
    for key, value in _s3_conf(object_store, bucket).items():
        setattr(settings, key, value)
    settings.STORAGES = {**settings.STORAGES, "default": s3_settings(object_store, bucket)}
    use_remote(StoredCache())
    try:
        yield bucket
    finally:
        use_remote(None)
