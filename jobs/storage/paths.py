"""File helpers over MEDIA_ROOT. Deleting is idempotent: a file already gone is fine."""

from __future__ import annotations

import shutil
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


def delete_file(name: str | None) -> None:
    if name:
        media_path(name).unlink(missing_ok=True)


def delete_tree(name: str) -> None:
    path = media_path(name)
    if path != Path(settings.MEDIA_ROOT).resolve():
        shutil.rmtree(path, ignore_errors=True)
