"""Errors the rendering library raises.

Every error carries ``.message``: an English sentence a user can read that says what to do,
for the library's own callers (the command line). Never put paths, stack traces or
internal identifiers into it; those belong in the log (pass them as ``detail``).

Every error also carries ``.code`` (a stable, snake_case name of what went wrong) and
``.params`` (the numbers and names its sentence needs): an application says the failure in
its user's language from those alone (the Django worker stores code and params, and its one
catalogue, ``jobs/user_errors.py``, words every code raised here: a test checks it), so
``params`` must hold everything the sentence says. A raise site that names no code gets its
class's (``media_invalid``, ``no_face``, ``canceled``, ``rendering_failed``). The library
itself stays English-only and free of any web framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class RenderingError(Exception):
    """Base of every error the rendering library raises on purpose."""

    default_code: ClassVar[str] = "rendering_failed"

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # For logs and developers only; never shown to users.
        self.detail = detail
        self.code = code or self.default_code
        # Plain values (numbers, short strings) that the message's translation may use.
        self.params: dict[str, Any] = dict(params or {})

    def __str__(self) -> str:
        if self.detail:
            return f"{self.message} ({self.detail})"
        return self.message


class MediaError(RenderingError):
    """Bad, unsupported or over-limit media (audio or video)."""

    default_code = "media_invalid"


class FaceError(RenderingError):
    """No usable face in a template video."""

    default_code = "no_face"


class RenderCanceled(RenderingError):
    """Raised by engines when ``should_cancel()`` returns True."""

    default_code = "canceled"

    def __init__(
        self,
        message: str = "This render was canceled.",
        *,
        detail: str | None = None,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, detail=detail, code=code, params=params)
