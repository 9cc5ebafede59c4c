"""What a request that goes wrong gets back: JSON in the API's error shape on ``/api/``
routes, a plain page everywhere else, and never a traceback.

- :class:`NulCharacter`: a request's text holds a NUL character (heygem_site.text finds it).
- :func:`request_error_response`: Django's own refusals of a request body (over
  ``DATA_UPLOAD_MAX_MEMORY_SIZE``, more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields or
  ``..._FILES`` files) as 413 ``too_large`` / 400 ``invalid``; the API's exception handler
  and the ``handler400`` below both use it.
- ``handler400/403/404/500``: the project's error pages (set in ``heygem_site.urls``), which
  Django uses whenever DEBUG is off.

No DRF here (the API's JSON parser is ``heygem_site.api.SafeJSONParser``): the pages-only
process loads this module and never loads DRF.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _


def nul_message() -> str:
    return _(
        "The text you sent contains a NUL character (\\0), which cannot be stored or "
        "searched for. Remove it and try again."
    )


class NulCharacter(BadRequest):
    """A request's text holds a NUL character: a 400 with :func:`nul_message`, answered by
    :func:`bad_request` (JSON under ``/api/``) wherever it is raised."""


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def request_error_response(exc: BaseException) -> tuple[int, str, str] | None:
    """(status, code, sentence) for Django's refusals of a request body, else None."""
    if isinstance(exc, NulCharacter):
        return 400, "invalid", nul_message()
    if isinstance(exc, RequestDataTooBig):
        limit = filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return (
            413,
            "too_large",
            _(
                "The request body is larger than %(limit)s. Send less data; upload files "
                "as multipart form data."
            )
            % {"limit": limit},
        )
    if isinstance(exc, TooManyFieldsSent):
        return (
            400,
            "invalid",
            _("The request has more than %(n)d fields. Send fewer fields.")
            % {"n": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS},
        )
    if isinstance(exc, TooManyFilesSent):
        return (
            400,
            "invalid",
            _("The request has more than %(n)d files. Send fewer files at once.")
            % {"n": settings.DATA_UPLOAD_MAX_NUMBER_FILES},
        )
    return None


# A refused body up to this size is read and dropped before answering (see below).
DRAIN_LIMIT = 64 * 1024 * 1024


def drain_refused_body(request: HttpRequest) -> None:
    """Read and drop what is left of a body we refused without reading.

    gunicorn keeps a keep-alive connection only when at most 64 KiB of the last request's
    body is left unread; otherwise it closes it without telling the client, whose next
    request on it then gets no answer. Bodies over ``DRAIN_LIMIT`` are left (the
    connection closes: cheaper than reading them).
    """
    if int(request.META.get("CONTENT_LENGTH") or 0) > DRAIN_LIMIT:
        return
    try:
        while request.read(1 << 16):
            pass
    except OSError:  # a client that hung up: nothing left to keep alive
        return


def _api_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def error_page(status: int, title: str, message: str) -> HttpResponse:
    """A standalone page (no base template, so it renders even when the database is down)."""
    body = loader.render_to_string(
        "error.html", {"status": status, "title": title, "message": message}
    )
    return HttpResponse(body, status=status)


def _page(request: HttpRequest | None, status: int, title: str, message: str) -> HttpResponse:
    return error_page(status, title, message)


def bad_request(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    known = request_error_response(exception) if exception is not None else None
    if isinstance(exception, RequestDataTooBig):
        drain_refused_body(request)
    status, code, message = known or (
        400,
        "invalid",
        _("The request could not be understood. Go back and try again."),
    )
    if is_api(request):
        return _api_error(status, code, message)
    title = _("Too large") if status == 413 else _("Bad request")
    return _page(request, status, title, message)


def permission_denied(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    message = _("You do not have permission to do this.")
    if is_api(request):
        return _api_error(403, "permission_denied", message)
    return _page(request, 403, _("Not allowed"), message)


def page_not_found(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    message = _("There is nothing at this address. Check the link, or start from the home page.")
    if is_api(request):
        return _api_error(404, "not_found", _("Not found."))
    return _page(request, 404, _("Not found"), message)


def server_error(request: HttpRequest) -> HttpResponse:
    message = _("Something went wrong on our side. Try again in a moment.")
    if is_api(request):
        return _api_error(500, "server_error", message)
    return _page(request, 500, _("Server error"), message)
