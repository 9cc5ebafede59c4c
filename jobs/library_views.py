"""The user's media library: audio and template uploads, the template library page, files
served to their owner (videos, thumbnails, face pictures) and the choice of who speaks.

Split from ``jobs.views`` (batches and history) so neither grows past a screenful of concerns;
``jobs.views`` uses :func:`request_user`, :func:`error_sentences` and the JSON shapes here.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs import selectors, services
from jobs.library.uploads import upload_too_large_message
from jobs.models import AudioClip, Template
from jobs.storage.serving import serve_file
from jobs.templatetags.face_tags import template_faces_json
from jobs.user_errors import template_face_error_text, template_face_note_text


def request_user(request: HttpRequest) -> Any:
    return request.user


def error_sentences(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _upload_error(request: HttpRequest, exc: ValidationError | None = None) -> JsonResponse:
    message = upload_too_large_message(request)
    if message is not None:
        return JsonResponse({"error": {"code": "too_large", "message": message}}, status=413)
    if exc is None:
        return JsonResponse(
            {
                "error": {
                    "code": "no_file",
                    "message": _("No file arrived. Choose a file and try again."),
                }
            },
            status=400,
        )
    return JsonResponse(
        {"error": {"code": "invalid_media", "message": error_sentences(exc)}}, status=400
    )


def audio_json(clip: AudioClip) -> dict[str, Any]:
    return {
        "id": str(clip.pk),
        "name": clip.original_name,
        "duration": round(clip.duration, 2),
        "sample_rate": clip.sample_rate,
        "size": clip.size_bytes,
    }


def template_json(template: Template) -> dict[str, Any]:
    return {
        "id": str(template.pk),
        "name": template.original_name,
        "duration": round(template.duration, 2),
        "width": template.width,
        "height": template.height,
        "fps": round(template.fps, 2),
        "size": template.size_bytes,
        "face_status": template.face_status,
        "face_error": template_face_error_text(template),
        "face_note": template_face_note_text(template),
        "thumbnail_url": reverse("template_thumbnail", args=[template.pk])
        if template.thumbnail
        else "",
        "faces": template_faces_json(template),
        "face_choice": template.face_choice,
        "choose_face_url": reverse("template_face_choose", args=[template.pk]),
    }


@login_required
@require_POST
def audio_upload(request: HttpRequest) -> JsonResponse:
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return _upload_error(request)
    try:
        clip = services.audio_upload(owner=request_user(request), uploaded=uploaded)
    except ValidationError as exc:
        return _upload_error(request, exc)
    return JsonResponse(audio_json(clip), status=201)


@login_required
@require_POST
def template_upload(request: HttpRequest) -> JsonResponse:
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return _upload_error(request)
    try:
        template = services.template_upload(owner=request_user(request), uploaded=uploaded)
    except ValidationError as exc:
        return _upload_error(request, exc)
    return JsonResponse(template_json(template), status=201)


@login_required
@require_GET
def template_library(request: HttpRequest) -> HttpResponse:
    templates = selectors.templates_for_user(request_user(request))
    return render(
        request,
        "jobs/templates.html",
        {"templates": templates, "nav": "templates"},
    )


@login_required
@require_GET
def template_status(request: HttpRequest) -> JsonResponse:
    """Face-analysis status of the user's templates, for the pages that wait on it."""
    ids = []
    for raw in request.GET.get("ids", "").split(",")[:200]:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    qs = selectors.templates_for_user(request_user(request))
    if ids:
        qs = qs.filter(pk__in=ids)
    return JsonResponse({"templates": [template_json(t) for t in qs]})


@login_required
@require_POST
def template_delete(request: HttpRequest, template_id: str) -> HttpResponse:
    template = selectors.template_get(request_user(request), template_id)
    try:
        services.template_delete(template=template)
    except ValidationError as exc:
        messages.error(request, error_sentences(exc))
    else:
        messages.success(
            request, _("Deleted the template “%(name)s”.") % {"name": template.original_name}
        )
    return redirect("template_library")


@login_required
@require_http_methods(["GET", "HEAD"])
def template_thumbnail(request: HttpRequest, template_id: str) -> HttpResponseBase:
    template = selectors.template_get(request_user(request), template_id)
    return serve_file(
        request,
        template.thumbnail.name,
        download_name="thumbnail.jpg",
        as_attachment=False,
        content_type="image/jpeg",
    )


@login_required
@require_http_methods(["GET", "HEAD"])
def audio_file(request: HttpRequest, audio_id: str) -> HttpResponseBase:
    """The user's uploaded audio, to listen to before starting a batch."""
    clip = selectors.audio_get(request_user(request), audio_id)
    return serve_file(
        request, clip.file.name, download_name=clip.original_name, as_attachment=False
    )


@login_required
@require_http_methods(["GET", "HEAD"])
def template_face_thumbnail(request: HttpRequest, template_id: str, index: int) -> HttpResponseBase:
    template = selectors.template_get(request_user(request), template_id)
    name = selectors.template_face_thumbnail_name(template, index)
    return serve_file(
        request,
        name,
        download_name=f"face{index + 1}.jpg",
        as_attachment=False,
        content_type="image/jpeg",
        within=request_user(request).storage_prefix,
    )


@login_required
@require_POST
def template_face_choose(request: HttpRequest, template_id: str) -> HttpResponse:
    """Choose which face speaks (POST ``face``: an index, or empty for the default).

    Answers JSON (the template) to the page's script, else redirects back."""
    template = selectors.template_get(request_user(request), template_id)
    raw = request.POST.get("face", "").strip()
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        try:
            face = int(raw) if raw not in ("", "default") else None
        except ValueError:
            raise ValidationError(_("Pick one of the faces shown.")) from None
        template = services.template_face_choose(template=template, face=face)
    except ValidationError as exc:
        if wants_json:
            return JsonResponse(
                {"error": {"code": "invalid", "message": error_sentences(exc)}}, status=400
            )
        messages.error(request, error_sentences(exc))
    else:
        if wants_json:
            return JsonResponse(template_json(template))
        messages.success(
            request,
            _("New batches with “%(name)s” make this face speak.")
            % {"name": template.original_name},
        )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("template_library")
    return redirect(back)


@login_required
@require_http_methods(["GET", "HEAD"])
def template_video(request: HttpRequest, template_id: str) -> HttpResponseBase:
    template = selectors.template_get(request_user(request), template_id)
    return serve_file(
        request, template.file.name, download_name=template.original_name, as_attachment=False
    )
