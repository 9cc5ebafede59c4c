"""A stored name's path under MEDIA_ROOT, for the local-disk backend only: everything
else goes through jobs.storage.files, which works on both backends."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation


def media_path(name: str | None) -> Path:
    """Absolute path of a stored file, refusing anything that resolves outside MEDIA_ROOT."""
    if not name:
        raise SuspiciousFileOperation("no file name")
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise SuspiciousFileOperation(f"{name!r} is outside MEDIA_ROOT")
    return path
