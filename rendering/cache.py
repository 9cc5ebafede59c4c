"""A directory of derived results (audio features, face tracks) keyed by content hash.

Layout: ``<root>/<kind>/<version>/<key[:2]>/<key>``. Bumping a version leaves old entries
where they are (never read again, safe to delete); the cache owns no index, so any number of
workers may share one directory: writes go to a temporary file in the same folder and are
renamed into place, so a reader sees either nothing or a whole entry.

The cache only moves bytes. Whoever deserialises an entry must treat a failure as a miss and
recompute; a truncated or tampered entry must never crash a render.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["Cache", "file_sha256"]

# Kinds, keys and versions become path components: nothing that could climb out of the root.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


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
        try:
            return self.path_for(kind, key, version).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
            return None

    def store(self, kind: str, key: str, version: str, data: bytes) -> Path:
        """Write an entry atomically (temporary file + ``os.replace``) and return its path."""
        path = self.path_for(kind, key, version)
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
        return path

    def discard(self, kind: str, key: str, version: str) -> None:
        """Remove an entry (e.g. one that failed to deserialise); missing entries are fine."""
        self.path_for(kind, key, version).unlink(missing_ok=True)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes: the cache key for anything derived from it (and the
    checksum jobs records for a result)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
