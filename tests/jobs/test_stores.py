"""The store registry (jobs.storage.stores): STORAGE_BACKEND names a class in STORES, that
class gives Django's default storage, and every store keeps the same contract through
jobs.storage.files (the local disk, and a real S3 server on 127.0.0.1)."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import SuspiciousFileOperation

from jobs.storage import files, stores
from jobs.storage.stores.local import LocalStore
from jobs.storage.stores.s3 import S3Store

PREFIX = "users/u1/batches/b1"


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each contract test runs on both stores (s3: a bucket of its own on the test server)."""
    if request.param == "s3":
        request.getfixturevalue("s3_bucket")
    yield request.param


def test_it_builds_the_store_settings_name(backend: str) -> None:
    expected = {"local": LocalStore, "s3": S3Store}[backend]
    assert type(stores.store()) is expected
    assert files.shared() is (backend == "s3")


def test_it_keeps_the_same_contract_on_every_store(backend: str, tmp_path: Path) -> None:
    source = tmp_path / "result.mp4"
    source.write_bytes(b"0123456789" * 1000)
    name = f"{PREFIX}/output_001.mp4"

    assert not files.exists(name) and files.stat(name) is None and files.size(name) == 0
    assert files.put(source, name, content_type="video/mp4") == 10_000
    assert files.exists(name) and files.size(name) == 10_000
    assert files.read_bytes(name) == b"0123456789" * 1000
    assert b"".join(files.iter_bytes(name, start=9_995, chunk=2)) == b"56789"
    with files.local_copy(name) as copy:
        assert copy.read_bytes() == b"0123456789" * 1000
    files.put_bytes(b"words", f"{PREFIX}/subtitles.srt")
    assert [f.name for f in files.iter_files(PREFIX)] == [
        f"{PREFIX}/output_001.mp4",
        f"{PREFIX}/subtitles.srt",
    ]
    # The local disk serves its own files; an object store gives the browser an address.
    url = files.download_url(name, disposition="attachment", content_type="video/mp4")
    if backend == "local":
        assert url is None and files.local_path(name) == Path(django_settings.MEDIA_ROOT) / name
    else:
        assert url is not None and files.local_path(name) is None
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert answer.read() == b"0123456789" * 1000

    with pytest.raises(FileNotFoundError):
        files.read_bytes(f"{PREFIX}/never-written.mp4")
    with pytest.raises(SuspiciousFileOperation):
        files.put(source, "../outside.mp4")
    assert files.delete_prefix(PREFIX) == 2
    assert list(files.iter_files("users")) == []
    files.delete(name)  # already gone: fine


def test_it_removes_empty_folders_but_the_kept_ones_on_the_local_disk(tmp_path: Path) -> None:
    for name in (f"{PREFIX}/segments/j1/0.mp4", "users/u1/batches/b2/output_001.mp4"):
        files.put_bytes(b"x", name)
    files.delete_prefix(f"{PREFIX}/segments/j1")
    files.delete_prefix("users/u1/batches/b2")
    (Path(django_settings.MEDIA_ROOT) / "users/u1/batches/b3").mkdir()

    files.remove_empty_folders("users", keep={"users", "users/u1/batches/b3"})

    media = Path(django_settings.MEDIA_ROOT)
    assert not (media / PREFIX).exists() and not (media / "users/u1/batches/b2").exists()
    assert (media / "users/u1/batches/b3").is_dir() and (media / "users").is_dir()


def test_a_put_survives_its_folder_being_removed_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper's empty-folder pass may remove a folder between a put's mkdir and its
    rename: the put makes it again instead of failing the render."""
    source = tmp_path / "part.mp4"
    source.write_bytes(b"part")
    name = f"{PREFIX}/segments/j1/0.mp4"
    real_mkdir = Path.mkdir
    removed: list[Path] = []

    def mkdir_then_lose_it(self: Path, *args: Any, **kwargs: Any) -> None:
        real_mkdir(self, *args, **kwargs)
        if self.name == "j1" and not removed:
            self.rmdir()  # what a concurrent remove_empty_folders does
            removed.append(self)

    monkeypatch.setattr(Path, "mkdir", mkdir_then_lose_it)
    files.put(source, name)
    assert removed and files.read_bytes(name) == b"part"


def test_a_new_backend_is_its_class_plus_one_registry_line(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What STORAGE_BACKEND names is looked up in STORES and nowhere else."""

    class ShelfStore(LocalStore):
        """The local disk, writing only what it is asked to, and saying so."""

        puts: list[str] = []

        def put(self, source: Path, name: str, *, content_type: str | None) -> None:
            self.puts.append(name)
            super().put(source, name, content_type=content_type)

    monkeypatch.setattr(sys.modules[__name__], "ShelfStore", ShelfStore, raising=False)
    monkeypatch.setitem(stores.STORES, "shelf", f"{__name__}.ShelfStore")
    settings.STORAGE_BACKEND = "shelf"

    files.put_bytes(b"kept", f"{PREFIX}/a.txt")

    assert type(stores.store()) is ShelfStore and ShelfStore.puts == [f"{PREFIX}/a.txt"]
    assert files.read_bytes(f"{PREFIX}/a.txt") == b"kept"


def test_settings_take_the_default_storage_from_the_chosen_store() -> None:
    local = stores.django_storage("local", {})
    s3 = stores.django_storage("s3", {"S3_BUCKET": "b", "S3_PRESIGNED_EXPIRES": 60})
    assert local == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert s3["OPTIONS"]["bucket_name"] == "b" and s3["OPTIONS"]["querystring_expire"] == 60
    with pytest.raises(ValueError, match="needs S3_BUCKET"):
        stores.django_storage("s3", {})
