"""The ZIP export's HTTP side: links minted from the batch and history pages, the download
behind a signed token, and the streamed response the admin's export uses too. What goes in
the archive, and the tokens, live in jobs/export.py."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from jobs import selectors
from jobs.export import (
    MAX_BATCHES_PER_EXPORT,
    ExportArchive,
    ExportLinkGone,
    ExportNotFound,
    export_link_create,
    export_link_open,
    export_link_revoke,
)
from jobs.models import ExportToken
from jobs.names import content_disposition


def _user(request: HttpRequest) -> Any:
    return request.user


def _errors(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _byte_range(request: HttpRequest, size: int, etag: str) -> tuple[int, int] | str | None:
    """The one byte range asked for, None for the whole archive, or "unsatisfiable".

    A Range whose If-Range names another version of the archive gets the whole of it, as
    do several ranges at once (allowed: they are rare, and a download manager resumes with one).
    """
    header = request.headers.get("Range", "")
    if not header or size == 0:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    if match[1] and match[2] and int(match[2]) < int(match[1]):
        return None  # RFC 9110 14.1.1: an invalid range (last before first) is ignored
    if not match[1]:  # the last N bytes
        start, end = max(size - int(match[2]), 0), size - 1
    else:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


def export_response(request: HttpRequest, archive: ExportArchive) -> HttpResponseBase:
    """GET streams the archive (or the byte range asked for), HEAD answers the same headers."""
    size = archive.size
    etag = archive.etag
    wanted = _byte_range(request, size, etag)
    if wanted == "unsatisfiable":
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    if isinstance(wanted, tuple):
        start, end = wanted
        status = 206
    else:
        start, end, status = 0, size - 1, 200
    body: Iterable[bytes] = [] if request.method == "HEAD" else archive.iter_range(start, end)
    response = StreamingHttpResponse(body, content_type="application/zip", status=status)
    response["Content-Length"] = str(end - start + 1)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = content_disposition(archive.filename)
    response["Last-Modified"] = http_date(archive.last_modified.timestamp())
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Accept-Ranges"] = "bytes"
    # Tell nginx to pass the stream on as it comes instead of spooling it to disk first.
    response["X-Accel-Buffering"] = "no"
    return response


def _wants_finished_only(request: HttpRequest) -> bool:
    return request.POST.get("finished_only", "").lower() in {"1", "true", "on", "yes"}


def _export_link_answer(request: HttpRequest, batch_ids: list[Any]) -> HttpResponse:
    """Mint a link: JSON for the page's script (size, expiry, warning), else a redirect to it."""
    try:
        link = export_link_create(
            user=_user(request), batch_ids=batch_ids, finished_only=_wants_finished_only(request)
        )
    except ExportNotFound:
        raise Http404 from None
    except ValidationError as exc:
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"error": {"code": "invalid", "message": _errors(exc)}}, status=400)
        messages.error(request, _errors(exc))
        return redirect("history")
    url = request.build_absolute_uri(link.url)
    if "application/json" not in request.headers.get("Accept", ""):
        return redirect(url)
    warning = ""
    if link.size > settings.EXPORT_WARN_SIZE:
        warning = _(
            "This archive is %(size)s, more than %(limit)s. Make sure the disk you save to has "
            "room for it. If the download breaks, it can resume (for example with curl -C -)."
        ) % {"size": filesizeformat(link.size), "limit": filesizeformat(settings.EXPORT_WARN_SIZE)}
    response = JsonResponse(
        {
            "url": url,
            "filename": link.filename,
            "size": link.size,
            "size_label": filesizeformat(link.size),
            "expires_at": link.expires_at.isoformat(),
            "expires_in": settings.EXPORT_LINK_MAX_AGE,
            "batches": list(link.batch_ids),
            "finished_only": link.finished_only,
            "warning": warning,
        },
        status=201,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def batch_export(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = selectors.batch_get(_user(request), batch_id)
    return _export_link_answer(request, [batch.pk])


@login_required
@require_POST
def batches_export_selected(request: HttpRequest) -> HttpResponse:
    """One link for the selected batches; an id that is not the user's makes it a 404."""
    return _export_link_answer(request, request.POST.getlist("batch")[:MAX_BATCHES_PER_EXPORT])


@require_http_methods(["GET", "HEAD"])
def export_download(request: HttpRequest) -> HttpResponseBase:
    """No session needed: the token in the link is the credential (it works from curl).

    An unknown token answers 404 with a page saying the link does not work; a revoked or
    expired one, or one whose batches were deleted, 410 with a page that says which. The
    signed-in owner of a revoked or expired link gets a button that makes a new one for the
    same batches (those that still exist)."""
    token = request.GET.get("token", "")
    try:
        archive = export_link_open(token=token)
    except ExportNotFound:
        return _link_not_working(request, reason="unknown", link=None, status=404)
    except ExportLinkGone as gone:
        return _link_not_working(request, reason=gone.reason, link=gone.link, status=410)
    return export_response(request, archive)


def _link_not_working(
    request: HttpRequest, *, reason: str, link: ExportToken | None, status: int
) -> HttpResponse:
    renew_ids: list[str] = []
    if (
        link is not None
        and reason in ("revoked", "expired")
        and request.user.is_authenticated
        and request.user.pk == link.owner_id
    ):
        mine = selectors.batches_for_user(_user(request)).filter(pk__in=link.batch_ids)
        found = {str(pk) for pk in mine.values_list("pk", flat=True)}
        renew_ids = [str(b) for b in link.batch_ids if str(b) in found]
    return render(
        request,
        "jobs/export_link.html",
        {
            "reason": reason,
            "renew_ids": renew_ids,
            "finished_only": bool(link and link.finished_only),
            "minutes": max(1, settings.EXPORT_LINK_MAX_AGE // 60),
        },
        status=status,
    )


@login_required
@require_POST
def export_link_revoke_view(request: HttpRequest, link_id: str) -> HttpResponse:
    """The owner stops one of their links (another user's id: 404)."""
    link = get_object_or_404(_user(request).export_tokens, pk=link_id)
    if export_link_revoke(link=link, by=_user(request)):
        messages.success(request, _("The download link was revoked; it no longer works."))
    return redirect("accounts:account")
