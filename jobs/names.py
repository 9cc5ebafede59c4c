"""Names of user files: the one place that cleans a name a user gave us and makes file names
from it (downloads, ZIP members, the ZIP itself).

Two steps, on purpose: :func:`clean_display_name` keeps what the user typed (only folders and
control characters go) for the database and the pages; :func:`safe_member_name` turns any
name into one path component safe on every OS, and every file name we hand out goes
through it.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from jobs.models import RenderJob


def clean_display_name(name: str, *, fallback: str) -> str:
    """A file name fit to show and to use inside a ZIP: no folders, no control characters."""
    name = unicodedata.normalize("NFC", PurePosixPath(name.replace("\\", "/")).name)
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip(" .")
    return name[:200] or fallback


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_member_name(name: str, *, fallback: str, max_length: int = 80) -> str:
    """A single path component fit for a ZIP member on every OS: no folders, no `..`, no
    control or reserved characters, no leading dots (hidden files), bounded length."""
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" ._")
    name = name[:max_length].strip(" ._")
    return name or fallback


def result_stem(template_name: str) -> str:
    """A template's name without its extension, as a safe file-name part."""
    stem = template_name.rsplit(".", 1)[0] if "." in template_name.lstrip(".") else template_name
    return safe_member_name(stem, fallback="video")


def _ascii_fallback(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._ -]+", "_", text).strip(" ._")
    return text or "export"


def content_disposition(filename: str) -> str:
    """RFC 6266 attachment with an ASCII fallback and the exact name per RFC 5987."""
    stem, _, ext = filename.rpartition(".")
    fallback = f"{_ascii_fallback(stem)}.{ext}" if stem else _ascii_fallback(filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def result_download_name(job: RenderJob) -> str:
    """The file name a finished video downloads as, from the page and from the API."""
    batch = safe_member_name(job.batch.name, fallback="batch")
    return f"{batch}_{job.position:03d}_{result_stem(job.template_name)}.mp4"
