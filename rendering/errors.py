"""Errors the rendering library raises.

Every error carries ``.message``: a sentence a user can read that says what to do. The
worker stores it on the failed job as is, so never put paths, stack traces or internal
identifiers into it; those belong in the log (pass them as ``detail``).
"""

from __future__ import annotations


class RenderingError(Exception):
    """Base of every error the rendering library raises on purpose."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # For logs and developers only; never shown to users.
        self.detail = detail

    def __str__(self) -> str:
        if self.detail:
            return f"{self.message} ({self.detail})"
        return self.message


class MediaError(RenderingError):
    """Bad, unsupported or over-limit media (audio or video)."""


class FaceError(RenderingError):
    """No usable face in a template video."""


class RenderCanceled(RenderingError):
    """Raised by engines when ``should_cancel()`` returns True."""

    def __init__(
        self, message: str = "This render was canceled.", *, detail: str | None = None
    ) -> None:
        super().__init__(message, detail=detail)
