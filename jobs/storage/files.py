"""The one door to stored bytes, on whichever store ``STORAGE_BACKEND`` names.

Every file a user owns has a relative name (``users/<storage id>/...``). Code outside this
module never builds a path from a name: it asks for a local copy (``local_copy``), puts a
finished local file in place (``put``), streams bytes (``iter_bytes``), or asks for a
download address (``download_url``). What each does on the local disk or in an object
store is the store's business (``jobs.storage.stores``: one module per backend, chosen
once from settings); nothing here asks which backend is in use.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.storage.leftovers import hold
from jobs.storage.stores import CHUNK, StoredFile, clean_name, scratch_dir, store

__all__ = [
    "CHUNK",
    "StoredCache",
    "StoredFile",
    "clean_name",
    "delete",
    "delete_listed",
    "delete_prefix",
    "download_url",
    "exists",
    "iter_bytes",
    "iter_files",
    "local_copy",
    "local_path",
    "put",
    "put_bytes",
    "read_bytes",
    "remove_empty_folders",
    "scratch_dir",
    "scratch_file",
    "sha256",
    "shared",
    "size",
    "stat",
]


def shared() -> bool:
    """Whether every host sees the same stored files (render caches are then shared)."""
    return store().shared


# --- Reading --------------------------------------------------------------------------------


def exists(name: str | None) -> bool:
    return stat(name) is not None


def size(name: str | None) -> int:
    """The stored size in bytes, 0 for a file that is not there."""
    info = stat(name)
    return info.size if info is not None else 0


def stat(name: str | None) -> StoredFile | None:
    """Size and time of a stored file, or None when it is not there."""
    if not name:
        return None
    return store().stat(clean_name(name))


def iter_bytes(name: str, *, start: int = 0, chunk: int = CHUNK) -> Iterator[bytes]:
    """The file's bytes from `start`, `chunk` at a time: memory stays bounded whatever its size."""
    return store().iter_bytes(clean_name(name), start=start, chunk=chunk)


def sha256(name: str) -> str:
    """Hex SHA-256 of a stored file's bytes, read in chunks."""
    digest = hashlib.sha256()
    for block in iter_bytes(name):
        digest.update(block)
    return digest.hexdigest()


def read_bytes(name: str) -> bytes:
    return b"".join(iter_bytes(name))


@contextmanager
def local_copy(name: str | None, *, suffix: str | None = None) -> Iterator[Path]:
    """A path on this host holding the stored file, for tools that need one (PyAV, OpenCV).

    Local disk: the stored file itself (read it, never change it). Object storage: a copy in
    SCRATCH_DIR, removed when the block ends."""
    with store().local_copy(clean_name(name), suffix=suffix) as path:
        yield path


def local_path(name: str) -> Path | None:
    """The stored file's own path on this host (local disk), or None (object storage)."""
    return store().local_path(clean_name(name))


# --- Writing --------------------------------------------------------------------------------


def put(source: Path, name: str, *, content_type: str | None = None) -> int:
    """Put a finished local file at `name` (replacing what is there) and return its size.

    Local disk: renamed into place (atomic). Object storage: uploaded; the source stays for
    the caller to remove."""
    name = clean_name(name)
    size_bytes = source.stat().st_size
    store().put(source, name, content_type=content_type)
    return size_bytes


def put_bytes(data: bytes, name: str, *, content_type: str | None = None) -> int:
    fd, tmp = tempfile.mkstemp(prefix="out-", dir=scratch_dir())
    hold(fd)
    path = Path(tmp)
    try:
        os.write(fd, data)
        return put(path, name, content_type=content_type)
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


@contextmanager
def scratch_file(*, suffix: str = "") -> Iterator[Path]:
    """A new, empty path in SCRATCH_DIR for a tool to write into, removed afterwards (unless
    `put` already moved it into place)."""
    fd, tmp = tempfile.mkstemp(prefix="work-", suffix=suffix, dir=scratch_dir())
    hold(fd)
    path = Path(tmp)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def delete(name: str | None) -> None:
    """Remove a stored file; one already gone is fine."""
    if not name:
        return
    store().delete(clean_name(name))


def delete_listed(name: str) -> None:
    """Remove a file that `iter_files` listed (a link on the local disk is removed itself,
    never what it points at)."""
    store().delete_listed(clean_name(name))


def delete_prefix(prefix: str) -> int:
    """Remove every file under a folder name (``users/<id>/batches/<batch>``); returns how
    many. Never the whole store: an empty prefix is refused."""
    return store().delete_prefix(clean_name(prefix).rstrip("/"))


def iter_files(prefix: str, *, symlinks: bool = False) -> Iterator[StoredFile]:
    """Every stored file under a folder name, in name order, read a page at a time
    (`symlinks`: on the local disk, links too, which only the sweeper wants to see)."""
    return store().iter_files(clean_name(prefix).rstrip("/"), symlinks=symlinks)


def remove_empty_folders(prefix: str, *, keep: Collection[str] = ()) -> None:
    """Remove the empty folders at and under a folder name, deepest first, except those
    named in `keep` (object stores have no folders: nothing to do)."""
    store().remove_empty_folders(clean_name(prefix).rstrip("/"), keep=keep)


# --- Downloads ------------------------------------------------------------------------------


def download_url(
    name: str, *, disposition: str, content_type: str, expires: int | None = None
) -> str | None:
    """A short-lived address the browser fetches the file from directly, or None when the
    web process serves it (local disk)."""
    return store().download_url(
        clean_name(name), disposition=disposition, content_type=content_type, expires=expires
    )


# --- The render cache's shared tier ---------------------------------------------------------

CACHE_PREFIX = "cache"


class StoredCache:
    """rendering.cache's second tier in the store (``cache/<kind>/<version>/…``),
    so that a face track or an audio analysis made on one worker host serves every host."""

    def get(self, name: str) -> bytes | None:
        try:
            return read_bytes(f"{CACHE_PREFIX}/{name}")
        except FileNotFoundError:  # every store says so for a name that is not there
            return None

    def put(self, name: str, data: bytes) -> None:
        put_bytes(data, f"{CACHE_PREFIX}/{name}")

    def delete(self, name: str) -> None:
        delete(f"{CACHE_PREFIX}/{name}")
