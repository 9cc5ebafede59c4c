"""Names of user files: the one place that cleans a name a user gave us and makes file names
from it (downloads, ZIP members, the ZIP itself).

Two steps, on purpose: :func:`clean_display_name` (file names) and :func:`clean_text_name`
(batch names) keep what the user typed, less what no name may carry, for the database and
the pages; :func:`safe_member_name` / :func:`safe_file_name` turn any name into one path
component safe on every OS, and every file name we hand out (downloads, ZIP members,
Content-Disposition) goes through them, so rows stored before these rules are served clean too.

What no name may carry (:func:`visible_text`): control characters (CR/LF included), Unicode
format characters (the bidi overrides such as U+202E that make ``report_\u202efdp.exe`` show
as ``report_exe.pdf``, zero-width characters), line and paragraph separators, surrogates and
private-use characters; other whitespace becomes one plain space.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from jobs.models import RenderJob


_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def visible_text(text: str) -> str:
    """``text`` without the characters no name may carry (see the module docstring)."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES:
            if char in "\t\n\r\x0b\x0c":
                out.append(" ")  # a line break inside a name still separates words
            continue
        out.append(" " if category == "Zs" else char)
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def clean_display_name(name: str, *, fallback: str) -> str:
    """A file name fit to show and to use inside a ZIP: no folders, nothing invisible."""
    name = visible_text(PurePosixPath(name.replace("\\", "/")).name).strip(" .")
    return name[:200] or fallback


def clean_text_name(name: str, *, fallback: str = "", max_length: int = 200) -> str:
    """A name the user typed (a batch's): kept as typed, slashes included, less anything
    invisible; at most ``max_length`` characters."""
    return visible_text(name)[:max_length].strip() or fallback


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_member_name(name: str, *, fallback: str, max_length: int = 80) -> str:
    """A single path component fit for a ZIP member on every OS: no folders, no `..`, no
    control or reserved characters, no leading dots (hidden files), bounded length."""
    name = _UNSAFE.sub("_", visible_text(name))
    name = re.sub(r"\.{2,}", ".", name)  # no ".." anywhere, even where it is harmless
    name = re.sub(r"\s+", " ", name).strip(" ._")
    name = name[:max_length].strip(" ._")
    return name or fallback


def safe_file_name(name: str, *, fallback: str, max_length: int = 120) -> str:
    """:func:`safe_member_name` that keeps a short extension (``.mp4``) when it cuts."""
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem.strip(" .") and re.fullmatch(r"[A-Za-z0-9]{1,8}", ext)):
        stem, ext = name, ""
    stem = safe_member_name(stem, fallback=fallback, max_length=max_length - len(ext) - 1)
    return f"{stem}.{ext}" if ext else stem


def result_stem(template_name: str) -> str:
    """A template's name without its extension, as a safe file-name part."""
    stem = template_name.rsplit(".", 1)[0] if "." in template_name.lstrip(".") else template_name
    return safe_member_name(stem, fallback="video")


def _ascii_fallback(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._ -]+", "_", text).strip(" ._")
    return text or "export"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """RFC 6266 ``attachment`` (or ``inline``) with an ASCII fallback and the exact name per
    RFC 5987; the name is made safe first (:func:`safe_file_name`)."""
    filename = safe_file_name(filename, fallback="download")
    stem, _, ext = filename.rpartition(".")
    fallback = f"{_ascii_fallback(stem)}.{ext}" if stem else _ascii_fallback(filename)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def result_download_name(job: RenderJob) -> str:
    """The file name a finished video downloads as, from the page and from the API."""
    batch = safe_member_name(job.batch.name, fallback="batch")
    return f"{batch}_{job.position:03d}_{result_stem(job.template_name)}.mp4"
