"""A directory of derived results (audio features, face tracks) keyed by content hash.

Layout: ``<root>/<kind>/<version>/<key[:2]>/<key>``. Bumping a version leaves old entries
where they are (never read again, safe to delete); the cache owns no index, so any number of
workers may share one directory: writes go to a temporary file in the same folder and are
renamed into place, so a reader sees either nothing or a whole entry.

A second tier may sit behind the directory (``use_remote``): an object with ``get``/``put``
/``delete`` of bytes by the entry's relative name, e.g. the deployment's object storage, so
that every worker host reuses what any host computed. The directory stays the first tier
(a hit never touches the remote); a miss there that the remote has is copied in.

The cache only moves bytes. Whoever deserialises an entry must treat a failure as a miss and
recompute; a truncated or tampered entry must never crash a render.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

__all__ = ["Cache", "Remote", "file_sha256", "use_remote"]

# Kinds, keys and versions become path components: nothing that could climb out of the root.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Remote(Protocol):
    """A shared second tier: bytes by relative entry name (``kind/version/ke/key``)."""

    def get(self, name: str) -> bytes | None: ...

    def put(self, name: str, data: bytes) -> None: ...

    def delete(self, name: str) -> None: ...


_remote: Remote | None = None


def use_remote(remote: Remote | None) -> None:
    """Put a shared tier behind every cache directory of this process (None: none)."""
    global _remote
    _remote = remote


class Cache:
    """Content-addressed byte store under an explicit root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, kind: str, key: str, version: str) -> Path:
        for name, part in (("kind", kind), ("key", key), ("version", version)):
            if not _PART.match(part):
                raise ValueError(f"cache {name} {part!r} is not a safe file name")
        return self.root / kind / version / key[:2] / key

    def load(self, kind: str, key: str, version: str) -> bytes | None:
        """The stored bytes, or None when there is no entry (or it cannot be read)."""
        path = self.path_for(kind, key, version)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
            pass
        if _remote is None:
            return None
        data = _remote.get(self._relative(path))
        if data is not None:
            self._write(path, key, data)
        return data

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def store(self, kind: str, key: str, version: str, data: bytes) -> Path:
        """Write an entry atomically (temporary file + ``os.replace``), and to the shared tier
        when there is one, and return its path."""
        path = self.path_for(kind, key, version)
        self._write(path, key, data)
        if _remote is not None:
            _remote.put(self._relative(path), data)
        return path

    def _write(self, path: Path, key: str, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def file_sha256(self, path: str | Path) -> str:
        """:func:`file_sha256` of ``path``, remembered in this directory by the file's real
        path, size, modification and change times and inode, so a file that has not changed
        is not read again (a CLI render hashed the 140 MB Whisper model every run, 0.1-0.15
        s). Kept out of the shared tier: another machine's files are not these."""
        stat = os.stat(path)
        signature = "\0".join(
            str(part)
            for part in (
                os.path.realpath(path),
                stat.st_size,
                stat.st_mtime_ns,
                stat.st_ctime_ns,
                stat.st_ino,
            )
        )
        key = hashlib.sha256(signature.encode()).hexdigest()
        memo = self.path_for("file-sha256", key, "1")
        try:
            known = memo.read_text()
        except (OSError, UnicodeDecodeError):
            known = ""
        if _SHA256.fullmatch(known):
            return known
        digest = file_sha256(path)
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            self._write(memo, key, digest.encode())
        return digest

    def discard(self, kind: str, key: str, version: str) -> None:
        """Remove an entry (e.g. one that failed to deserialise); missing entries are fine."""
        path = self.path_for(kind, key, version)
        path.unlink(missing_ok=True)
        if _remote is not None:
            _remote.delete(self._relative(path))


def file_sha256(path: str | Path, cache: Cache | None = None) -> str:
    """Hex SHA-256 of a file's bytes: the cache key for anything derived from it (and the
    checksum jobs records for a result). With ``cache``, remembered there while the file is
    unchanged (:meth:`Cache.file_sha256`)."""
    if cache is not None:
        return cache.file_sha256(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
