"""Working files a killed process leaves on this host: its uploads' temporary files
(``FILE_UPLOAD_TEMP_DIR``, each up to the upload limit) and its working copies in
``SCRATCH_DIR`` (``in-*`` copies of stored files in S3 mode, ``out-*`` and ``work-*``).

Whoever makes such a file holds a shared ``flock`` on it for as long as it is in use
(:func:`hold`); the kernel drops the lock when the process ends, however it ends. So
:func:`leftovers_sweep` knows a leftover without guessing from ages: a file nobody holds.
It runs in the hourly maintenance, when a worker cluster starts and when a web worker
starts (gunicorn replaces a killed worker with a new one, which sweeps what it left).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

log = logging.getLogger("heygem.jobs")

SCRATCH_PATTERNS = ("in-*", "out-*", "work-*")
UPLOAD_PATTERNS = ("*.upload*",)
# A file is created a moment before its maker locks it: younger ones are left alone.
MIN_AGE_SECONDS = 60.0


@dataclass
class Leftovers:
    files: int = 0
    bytes: int = 0


def hold(fd: int) -> None:
    """Mark an open working file as in use until it is closed (or its process dies)."""
    fcntl.flock(fd, fcntl.LOCK_SH)


def upload_temp_dir() -> Path | None:
    folder = settings.FILE_UPLOAD_TEMP_DIR
    return Path(folder) if folder else None


def _unheld(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # someone holds it: in use
    finally:
        os.close(fd)  # also drops our own lock
    return True


def leftovers_sweep(*, min_age: float = MIN_AGE_SECONDS) -> Leftovers:
    """Remove the working files nobody holds (older than `min_age` seconds) from this
    host's SCRATCH_DIR and upload temporary folder."""
    found = Leftovers()
    now = time.time()
    folders: list[tuple[Path | None, tuple[str, ...]]] = [
        (Path(settings.SCRATCH_DIR), SCRATCH_PATTERNS),
        (upload_temp_dir(), UPLOAD_PATTERNS),
    ]
    for folder, patterns in folders:
        if folder is None or not folder.is_dir():
            continue
        for pattern in patterns:
            for path in folder.glob(pattern):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                if not path.is_file() or now - stat.st_mtime < min_age or not _unheld(path):
                    continue
                path.unlink(missing_ok=True)
                found.files += 1
                found.bytes += stat.st_size
    if found.files:
        log.warning(
            "leftover working files removed", extra={"files": found.files, "bytes": found.bytes}
        )
    return found
