"""A job's own log: written as codes and parameters, worded in the reader's language.

The worker never writes sentences into ``RenderJob.log``: each line is one JSON object
``{"t": seconds since the attempt started, "code": ..., "params": {...}}`` (the codes of
``rendering.recipe``'s steps and the worker's own), so the batch page, the admin and the API
say it in Chinese or English through the one catalogue (``jobs.user_errors.step_text``, which
words a failure's ``error_code`` with the failures' sentences). Lines that are not such
objects (rows written before this format, a traceback kept for staff) are shown as they are:
the read-time fallback for old rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from jobs.user_errors import SENTENCES, step_text


class JobLog:
    """The lines of one attempt (or one join), with their time since it started."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = time.monotonic()

    def add(self, code: str, **params: Any) -> None:
        entry = {"t": round(time.monotonic() - self.started, 1), "code": code, "params": params}
        self.lines.append(json.dumps(entry, ensure_ascii=False, default=str))

    def failure(self, exc: Any, *, code: str = "failed", **params: Any) -> None:
        """A failure line: the error's own code and parameters, worded when shown. The
        library's English ``message`` is kept only for a code the catalogue does not know."""
        error_code = getattr(exc, "code", "") or ""
        if error_code not in SENTENCES:
            params["message"] = getattr(exc, "message", str(exc))
        self.add(
            code,
            error_code=error_code,
            error_params=dict(getattr(exc, "params", {}) or {}),
            **params,
        )

    def text(self) -> str:
        return "\n".join(self.lines)


def _entry(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
        return None
    return entry


def line_text(entry: Mapping[str, Any]) -> str:
    """One stored entry as a sentence in the active language."""
    return step_text(str(entry.get("code") or ""), entry.get("params") or {})


def log_lines(text: str) -> list[str]:
    """The stored log as lines in the active language, each with its time."""
    out = []
    for line in (text or "").splitlines():
        entry = _entry(line)
        if entry is None:
            out.append(line)
            continue
        seconds = entry.get("t")
        stamp = f"[{float(seconds):6.1f}s] " if isinstance(seconds, int | float) else ""
        out.append(stamp + line_text(entry))
    return out


def log_text(text: str) -> str:
    """The stored log as one text in the active language (the batch page, the admin, the API)."""
    return "\n".join(log_lines(text))
