"""A job's own log: written as codes and parameters, worded in the reader's language.

The worker never writes sentences into ``RenderJob.log``: each line is one JSON object
``{"t": seconds since the attempt started, "code": ..., "params": {...}}``, so the batch
page, the admin and the API can say it in Chinese or English (the one catalogue of
``jobs.user_errors`` for failures, ``LINES`` below for the steps). Lines that are not such
objects (rows written before this format, a traceback kept for staff) are shown as they are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from heygem_site.formats import duration_label, engine_label

# One sentence per step code. Parameters are worded by ``_worded`` before they go in.
LINES: dict[str, Promise] = {
    "attempt": gettext_lazy("Attempt %(attempt)s, engine: %(engine)s"),
    "audio_ready": gettext_lazy("Audio analysed (%(duration)s)"),
    "face_chosen": gettext_lazy("Face %(number)s of %(faces)s (chosen by you)"),
    "face_track": gettext_lazy("Face tracked: a face in %(present)s of %(frames)s frames"),
    "split": gettext_lazy("Split into %(parts)s parts (%(frames)s frames)"),
    "rendered": gettext_lazy("Rendered %(frames)s frames in %(seconds)s"),
    "captions": gettext_lazy("Captions drawn in (%(position)s, %(size)s)"),
    "transcript_made": gettext_lazy(
        "Transcript made for this video (the batch's preparation had left none)"
    ),
    "joined": gettext_lazy("Joined %(parts)s parts: %(frames)s frames"),
    "joined_reencoded": gettext_lazy("Joined %(parts)s parts (re-encoded): %(frames)s frames"),
    "quality": gettext_lazy("Quality: sync %(sync)s, face edited in %(coverage)s of frames"),
    "quality_review": gettext_lazy(
        "Quality: sync %(sync)s, face edited in %(coverage)s of frames. Please review: %(reasons)s"
    ),
    "quality_not_measured": gettext_lazy("Quality not measured (%(error)s)"),
    "failed": gettext_lazy("Failed: %(reason)s"),
    "join_failed": gettext_lazy("Joining the parts failed: %(reason)s"),
    "part_failed": gettext_lazy("Part %(part)s of %(parts)s failed: %(reason)s"),
}


class JobLog:
    """The lines of one attempt (or one join), with their time since it started."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = time.monotonic()

    def add(self, code: str, **params: Any) -> None:
        entry = {"t": round(time.monotonic() - self.started, 1), "code": code, "params": params}
        self.lines.append(json.dumps(entry, ensure_ascii=False, default=str))

    def failure(self, exc: Any, *, code: str = "failed", **params: Any) -> None:
        """A failure line: the error's own code and parameters, worded when shown."""
        self.add(
            code,
            error_code=getattr(exc, "code", "") or "",
            error_params=dict(getattr(exc, "params", {}) or {}),
            message=getattr(exc, "message", str(exc)),
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


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.0f}%"


def _worded(code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    from jobs.transcripts import CAPTION_POSITION_LABELS, CAPTION_SIZE_LABELS
    from jobs.user_errors import error_text

    values = dict(params)
    if "engine" in values:
        values["engine"] = engine_label(str(values["engine"]))
    if "position" in values:
        position = str(values["position"])
        values["position"] = str(CAPTION_POSITION_LABELS.get(position, position))
    if "size" in values:
        size = str(values["size"])
        values["size"] = str(CAPTION_SIZE_LABELS.get(size, size))
    for key in ("duration", "seconds"):
        if isinstance(values.get(key), int | float):
            values[key] = duration_label(values[key])
    if code.startswith("quality") and code != "quality_not_measured":
        from jobs.views import quality_reason_text

        sync = values.get("sync")
        values["sync"] = f"{sync:.2f}" if isinstance(sync, int | float) else gettext("not measured")
        values["coverage"] = _percent(values.get("coverage") or 0)
        reasons = [quality_reason_text(str(r)) for r in values.get("reasons") or []]
        values["reasons"] = " ".join(reasons)
    if "error_code" in values or "message" in values:
        values["reason"] = error_text(
            str(values.get("error_code") or ""),
            values.get("error_params") or {},
            str(values.get("message") or ""),
        )
    return values


def line_text(entry: Mapping[str, Any]) -> str:
    """One stored entry as a sentence in the active language."""
    code = str(entry.get("code") or "")
    params = entry.get("params") or {}
    if code == "quality" and params.get("review"):
        code = "quality_review"
    sentence = LINES.get(code)
    if sentence is None:
        return code
    try:
        return str(sentence) % _worded(code, params)
    except (KeyError, TypeError, ValueError):
        return code  # parameters from another version: at least say which step


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
