"""Keep download tokens out of every log.

An export link carries its credential in the query string (`?token=…`, see jobs/export.py).
Django's own loggers record only paths, but the development server's request lines and
gunicorn's access log (`%(r)s`, `%(q)s`, the Referer) and error log (`Error handling request
<uri>`) would print it. `RedactTokens` filters Django's loggers; `GunicornLogger` is passed
to gunicorn with `--logger-class heygem_site.log_redaction.GunicornLogger`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"(?i)(token(?:=|%3D))[^&\s\"'#]+")
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    if isinstance(value, str):
        return _TOKEN.sub(r"\1" + REDACTED, value)
    if isinstance(value, bytes):
        return redact(value.decode("latin-1")).encode("latin-1")
    return value


def _redact_args(args: Any) -> Any:
    if isinstance(args, dict):
        return {key: redact(value) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(redact(value) for value in args)
    return args


class RedactTokens(logging.Filter):
    """A logging filter for Django's loggers (django.server prints whole request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg)
        record.args = _redact_args(record.args)
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, _RedactedRequest):
            # django.request attaches the request, whose repr holds the full URL; a JSON
            # formatter writing extras (heygem_site.logging) would print it.
            record.request = _RedactedRequest(request)
        return True


class _RedactedRequest:
    """The request as handlers need it (attributes pass through), printed without tokens."""

    def __init__(self, request: Any) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    def __repr__(self) -> str:
        return redact(repr(self._request))

    __str__ = __repr__


class GunicornLogger(Logger):
    """gunicorn's logger with tokens redacted from the access line and from error messages."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        return {
            key: redact(value)
            for key, value in super().atoms(resp, req, environ, request_time).items()
        }

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().critical(redact(msg), *_redact_args(args), **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().error(redact(msg), *_redact_args(args), **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().warning(redact(msg), *_redact_args(args), **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().info(redact(msg), *_redact_args(args), **kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().debug(redact(msg), *_redact_args(args), **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().exception(redact(msg), *_redact_args(args), **kwargs)
