from __future__ import annotations

from pathlib import Path

import pytest

from rendering.cache import Cache, file_sha256

KEY = "ab" + "0" * 62


def test_it_stores_and_loads_bytes(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")

    assert cache.load("audio", KEY, "v1") is None
    path = cache.store("audio", KEY, "v1", b"features")

    assert cache.load("audio", KEY, "v1") == b"features"
    assert path == tmp_path / "cache" / "audio" / "v1" / "ab" / KEY
    assert path == cache.path_for("audio", KEY, "v1")


def test_versions_and_kinds_do_not_share_entries(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.store("audio", KEY, "v1", b"old")

    assert cache.load("audio", KEY, "v2") is None
    assert cache.load("face-track", KEY, "v1") is None


def test_a_store_replaces_the_entry_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.store("audio", KEY, "v1", b"first")
    path = cache.store("audio", KEY, "v1", b"second")

    assert cache.load("audio", KEY, "v1") == b"second"
    assert [p.name for p in path.parent.iterdir()] == [KEY]


def test_discard_removes_an_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.store("audio", KEY, "v1", b"x")

    cache.discard("audio", KEY, "v1")
    cache.discard("audio", KEY, "v1")  # twice is fine

    assert cache.load("audio", KEY, "v1") is None


@pytest.mark.parametrize(
    ("kind", "key", "version"),
    [
        ("..", KEY, "v1"),
        ("audio", "../../etc/passwd", "v1"),
        ("audio", KEY, "v1/../.."),
        ("audio", "", "v1"),
    ],
)
def test_it_refuses_names_that_leave_the_root(
    tmp_path: Path, kind: str, key: str, version: str
) -> None:
    with pytest.raises(ValueError, match="not a safe file name"):
        Cache(tmp_path).path_for(kind, key, version)


def test_an_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    # A directory where the file should be, as a crashed copy might leave behind.
    cache.path_for("audio", KEY, "v1").mkdir(parents=True)

    assert cache.load("audio", KEY, "v1") is None


def test_a_files_hash_is_remembered_until_the_file_changes(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 1000)

    first = cache.file_sha256(model)

    assert first == file_sha256(model) == file_sha256(model, cache)
    memos = [p for p in (tmp_path / "cache" / "file-sha256").rglob("*") if p.is_file()]
    assert [p.read_text() for p in memos] == [first]  # remembered, and read back
    assert cache.file_sha256(model) == first
    # Changed (size and times differ): hashed again, remembered beside the first.
    model.write_bytes(b"other weights" * 1000)
    second = cache.file_sha256(model)
    assert second == file_sha256(model) != first
    # A damaged memo is a miss, never a wrong hash.
    for memo in (tmp_path / "cache" / "file-sha256").rglob("*"):
        if memo.is_file():
            memo.write_text("not a hash")
    assert cache.file_sha256(model) == second
