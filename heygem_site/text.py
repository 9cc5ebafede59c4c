"""Text from requests that may reach the database: PostgreSQL cannot store or compare a NUL
character (``psycopg.DataError``: a 500), SQLite can; both must answer the same.

- :func:`text_checked`: the one check, for services and forms (a ``ValidationError`` with
  a sentence);
- :class:`NulCharacterMiddleware`: every query parameter (every free-text filter of the
  pages and the API: ``?q=``, ``?search=``, ``?face_status=``, and any added later) and
  every field of a form-encoded or multipart body: 400 in the API's error shape under
  ``/api/``, the error page elsewhere (``heygem_site.errors.NulCharacter``). JSON bodies
  are checked by DRF's own fields (``ProhibitNullCharactersValidator``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from heygem_site.errors import NulCharacter, bad_request, nul_message

NUL = "\x00"


def has_nul(values: Iterable[str]) -> bool:
    return any(NUL in value for value in values)


def text_checked(value: str) -> str:
    """`value` unchanged, or a ValidationError (code ``nul_character``) when it holds a NUL."""
    if NUL in value:
        raise ValidationError(nul_message(), code="nul_character")
    return value


def _form_encoded(request: HttpRequest) -> bool:
    content_type = request.META.get("CONTENT_TYPE", "")
    return content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


def _encodes_nul(raw: bytes) -> bool:
    """In URL encoding a NUL is ``%00`` (or a raw NUL byte); nothing else decodes to one."""
    return b"\x00" in raw or b"%00" in raw


def request_has_nul(request: HttpRequest) -> bool:
    """A NUL in any query parameter (name or value), or in a form-encoded body's fields.

    Read on the raw bytes: parsing the body here would take Django's own refusals (too
    large, too many fields) away from the views that answer them.
    """
    if _encodes_nul(request.META.get("QUERY_STRING", "").encode("latin-1", "replace")):
        return True
    if request.method in ("POST", "PUT", "PATCH") and _form_encoded(request):
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or size <= limit:
            return _encodes_nul(request.body)
    return False


def _checked_parser(parse: Callable[..., Any]) -> Callable[..., Any]:
    def parse_checked(*args: Any, **kwargs: Any) -> Any:
        post, files = parse(*args, **kwargs)
        if has_nul(post.keys()) or has_nul(v for _k, values in post.lists() for v in values):
            raise NulCharacter(nul_message())
        return post, files

    return parse_checked


class NulCharacterMiddleware:
    """Query strings and form-encoded bodies are checked on their raw bytes before any view
    runs; a multipart body's fields are checked when a view (or the CSRF check) parses them,
    without reading the upload early (uploads stream to disk as they are parsed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request_has_nul(request):
            return bad_request(request, NulCharacter(nul_message()))
        request.parse_file_upload = _checked_parser(request.parse_file_upload)  # type: ignore[method-assign]
        return self.get_response(request)
