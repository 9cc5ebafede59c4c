"""The ZIP export's HTTP side: links minted from the batch and history pages, the download
behind a signed token, and the streamed response the admin's export uses too. What goes in
the archive, and the tokens, live in jobs/export.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from jobs import selectors
from jobs.export import (
    MAX_BATCHES_PER_EXPORT,
    ExportArchive,
    export_link_create,
    export_link_expired,
    export_link_open,
)
from jobs.names import content_disposition


def _user(request: HttpRequest) -> Any:
    return request.user


def _errors(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def export_response(request: HttpRequest, archive: ExportArchive) -> HttpResponse:
    """GET streams the archive, HEAD answers the same headers (same Content-Length)."""
    body: Iterable[bytes] = [] if request.method == "HEAD" else archive
    response: HttpResponse = StreamingHttpResponse(body, content_type="application/zip")  # type: ignore[assignment]
    response["Content-Length"] = str(archive.size)
    response["Content-Disposition"] = content_disposition(archive.filename)
    response["Last-Modified"] = http_date(archive.last_modified.timestamp())
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Accept-Ranges"] = "none"
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
            "room for it, and prefer a steady connection: the download cannot resume."
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
    """No session needed: the signed token in the link is the credential (it works from curl).

    A link that no longer works answers 404 with a page that says so; the signed-in owner of
    an expired link gets a button that makes a new one for the same batches."""
    token = request.GET.get("token", "")
    try:
        archive = export_link_open(token=token)
    except Http404:
        return _link_not_working(request, token)
    return export_response(request, archive)


def _link_not_working(request: HttpRequest, token: str) -> HttpResponse:
    expired = export_link_expired(token=token)
    renew_ids: list[str] = []
    if expired is not None and request.user.is_authenticated and request.user.pk == expired.user_id:
        mine = selectors.batches_for_user(_user(request)).filter(pk__in=expired.batch_ids)
        renew_ids = [str(pk) for pk in mine.values_list("pk", flat=True)]
    return render(
        request,
        "jobs/export_link.html",
        {
            "expired": expired is not None,
            "renew_ids": renew_ids,
            "finished_only": bool(expired and expired.finished_only),
            "minutes": max(1, settings.EXPORT_LINK_MAX_AGE // 60),
        },
        status=404,
    )
