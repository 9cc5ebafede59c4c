"""The HTTP edges every response passes (the outermost middleware):

1. **Early 413.** A request declaring a body larger than any endpoint takes (an upload of
   ``MAX_UPLOAD_SIZE`` plus room for its form fields) is refused before a byte of it is
   read: JSON in the API's error shape under ``/api/``, the error page elsewhere.
2. **Refusals leave the connection usable.** A refusal (4xx/5xx) to a request whose body
   was not read (a 429 before the throttled view ran, a 401, a 404) reads and drops what
   is left of the body (up to ``heygem_site.errors.DRAIN_LIMIT``), so gunicorn keeps the
   keep-alive connection and the client's next request on it is answered.
3. **Content-Security-Policy** on every response that has none: only this site's own
   scripts, styles, pictures, media and connections; no plugins, no framing, forms post
   only here. ``script-src-attr 'unsafe-inline'`` keeps the pages' ``onsubmit="return
   confirm(...)"`` handlers working (their text is translated, so hashes cannot name them);
   inline ``<script>`` elements stay forbidden. ``style-src 'unsafe-inline'``: the pages'
   progress bars set their width in a style attribute and the API docs inject styles.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from heygem_site.errors import drain_refused_body, error_page
from heygem_site.formats import size_label

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "script-src-attr 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Multipart framing and an upload's form fields, on top of the file itself.
FORM_ROOM = 1024 * 1024


def largest_body() -> int:
    return int(settings.MAX_UPLOAD_SIZE) + FORM_ROOM


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _too_large(request: HttpRequest, declared: int) -> HttpResponse:
    message = _(
        "This request is %(size)s; the upload limit is %(limit)s. Upload a shorter or smaller file."
    ) % {"size": size_label(declared), "limit": size_label(settings.MAX_UPLOAD_SIZE)}
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "too_large", "message": message}}, status=413)
    return error_page(413, _("Too large"), message)


class HttpEdgesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        declared = _declared_length(request)
        if declared > largest_body():
            response: HttpResponseBase = _too_large(request, declared)
        else:
            response = self.get_response(request)
            if declared and response.status_code >= 400:
                drain_refused_body(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
