"""Pages and small JSON endpoints of the batch workflow. Thin: every read goes through a
selector that starts from request.user, every write through a service."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs import selectors, services
from jobs.export import export_size
from jobs.library_views import error_sentences, request_user
from jobs.models import AudioClip, Batch, JobStatus, RenderJob
from jobs.names import result_download_name
from jobs.render.job_log import log_text
from jobs.render.worker.engines import engines_offered
from jobs.selectors import batch_counts, batches_for_user
from jobs.storage.serving import serve_file
from jobs.user_errors import quality_reasons, retry_blocked_reason
from jobs.words import transcripts

# --- Dashboard, new batch -------------------------------------------------------------------


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    recent = list(batches_for_user(request_user(request))[:5])
    rows = [(batch, batch_counts(batch)) for batch in recent]
    return render(request, "jobs/dashboard.html", {"recent": rows})


def _engines() -> list[str]:
    return engines_offered()


@login_required
@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    error = ""
    if request.method == "POST":
        try:
            batch = services.batch_create(
                owner=user,
                audio_id=request.POST.get("audio", ""),
                template_ids=request.POST.getlist("templates"),
                name=request.POST.get("name", ""),
                engine=request.POST.get("engine", ""),
                language=request.POST.get("language", "auto"),
                script=request.POST.get("script", ""),
                captions=request.POST.get("captions", ""),
                caption_size=request.POST.get("caption_size", "medium"),
            )
        except ValidationError as exc:
            error = error_sentences(exc)
        else:
            return redirect("batch_detail", batch.pk)
    return render(
        request,
        "jobs/batch_new.html",
        {
            "nav": "new",
            "error": error,
            "default_name": services.default_batch_name(request_user(request)),
            "engines": _engines(),
            "default_engine": settings.RENDER_ENGINE_DEFAULT,
            "audio_clips": AudioClip.objects.for_user(user)[:20],
            "templates": selectors.templates_for_user(user)[:100],
            "max_upload": settings.MAX_UPLOAD_SIZE,
            "max_templates": settings.MAX_TEMPLATES_PER_BATCH,
            "transcript_languages": transcripts.languages(),
            "transcripts_off": transcripts.new_batch_note(),
            "posted": request.POST if request.method == "POST" else {},
        },
    )


# --- Batch page and its live progress -------------------------------------------------------


def quality_json(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the batch page shows of a result's quality report: a sync figure and, when a
    person should look, the reasons in words."""
    if not report:
        return None
    sync = report.get("sync")
    return {
        "sync_label": _("Sync %(value)s") % {"value": f"{sync:.2f}"}
        if isinstance(sync, int | float)
        else _("Sync not measured"),
        "sync_title": (
            _(
                "How closely the mouth follows the sounds of the words, against what a real "
                "speaker's mouth does on them: 1 is perfect; real speakers' own videos "
                "score from about 0.1 to 0.6."
            )
            if report.get("basis") == "sounds"
            else _(
                "How closely the mouth follows the sound: 1 is perfect, 0.5 or more looks right."
            )
        )
        if isinstance(sync, int | float)
        else _("Too little speech to measure how the mouth follows it."),
        "review": bool(report.get("review")),
        "review_label": _("Please review"),
        "reasons": quality_reasons(report),
    }


def _job_json(job: RenderJob) -> dict[str, Any]:
    """The one job payload (selectors.job_payload) plus what the page needs to draw and act."""
    ready = job.status == JobStatus.SUCCEEDED and bool(job.output)
    failed = job.status in (JobStatus.FAILED, JobStatus.CANCELED)
    return selectors.job_payload(job) | {
        "retry_blocked": retry_blocked_reason(job) if failed else "",
        "status_label": JobStatus(job.status).label,
        "progress": round(job.progress, 3),
        "log": log_text(job.log),
        "video_url": reverse("job_video", args=[job.pk]) if ready else "",
        "download_url": reverse("job_download", args=[job.pk]) if ready else "",
        "retry_url": reverse("job_retry", args=[job.pk]),
        "delete_url": reverse("job_delete", args=[job.pk]),
        "thumbnail_url": reverse("template_thumbnail", args=[job.template_id])
        if job.template_id and job.template and job.template.thumbnail
        else "",
        "quality_view": quality_json(job.quality),
    }


def batch_page_json(batch: Batch) -> dict[str, Any]:
    """The batch page's JSON, drawn from the one read model (selectors.batch_state)."""
    state = selectors.batch_state(batch)
    counts = state.counts
    jobs = [_job_json(j) for j in state.jobs]
    return {
        "id": str(batch.pk),
        "name": batch.name,
        "status": state.status,
        "total": counts.total,
        "done": counts.succeeded,
        "failed": counts.failed,
        "canceled": counts.canceled,
        "finished": counts.finished,
        "active": counts.active,
        "progress": state.progress,
        "eta_seconds": state.eta_seconds(now=timezone.now()),
        "output_bytes": state.output_bytes,
        # The ZIP's exact size now: the 📦 button's label follows it while videos finish.
        "export_bytes": export_size(batch),
        # "Retry failed" shows only when a retry could fix at least one video.
        "retryable": any(
            j["status"] in (JobStatus.FAILED, JobStatus.CANCELED) and not j["retry_blocked"]
            for j in jobs
        ),
        "jobs": jobs,
    }


@login_required
@require_GET
def batch_detail(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = selectors.batch_get(request_user(request), batch_id)
    state_json = batch_page_json(batch)
    return render(
        request,
        "jobs/batch_detail.html",
        {
            "batch": batch,
            "state": state_json,
            "nav": "history",
            "export_bytes": state_json["export_bytes"],
            "words": transcripts.transcript_payload(batch),
            "language_name": transcripts.languages().get(batch.language, batch.language),
        },
    )


@login_required
@require_GET
def batch_progress(request: HttpRequest, batch_id: str) -> JsonResponse:
    batch = selectors.batch_get(request_user(request), batch_id)
    response = JsonResponse(batch_page_json(batch))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def batch_cancel(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = selectors.batch_get(request_user(request), batch_id)
    n = services.batch_cancel(batch=batch)
    messages.info(
        request, ngettext("Canceled %(n)d video.", "Canceled %(n)d videos.", n) % {"n": n}
    )
    return redirect("batch_detail", batch.pk)


@login_required
@require_POST
def batch_retry(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = selectors.batch_get(request_user(request), batch_id)
    try:
        n = services.batch_retry_failed(batch=batch)
    except ValidationError as exc:  # over the concurrent-jobs limit or the quota
        messages.error(request, error_sentences(exc))
        return redirect("batch_detail", batch.pk)
    messages.info(
        request,
        ngettext("%(n)d video is back in the queue.", "%(n)d videos are back in the queue.", n)
        % {"n": n},
    )
    return redirect("batch_detail", batch.pk)


@login_required
@require_POST
def batch_delete(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = selectors.batch_get(request_user(request), batch_id)
    name = batch.name
    services.batch_delete(batch=batch)
    messages.success(request, _("Deleted the batch “%(name)s” and its videos.") % {"name": name})
    return redirect("history")


@login_required
@require_POST
def job_retry(request: HttpRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(request_user(request), job_id)
    try:
        services.job_retry(job=job)
    except ValidationError as exc:  # over the concurrent-jobs limit or the quota
        messages.error(request, error_sentences(exc))
    return redirect("batch_detail", job.batch_id)


@login_required
@require_POST
def job_delete(request: HttpRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(request_user(request), job_id)
    batch_id = job.batch_id
    services.job_delete(job=job)
    messages.success(request, _("Deleted the result “%(name)s”.") % {"name": job.template_name})
    return redirect("batch_detail", batch_id)


@login_required
@require_http_methods(["GET", "HEAD"])
def job_video(request: HttpRequest, job_id: str) -> HttpResponseBase:
    job = selectors.job_get(request_user(request), job_id)
    return serve_file(
        request,
        job.output.name,
        download_name=result_download_name(job),
        as_attachment=False,
        content_type="video/mp4",
        within=request_user(request).storage_prefix,
    )


@login_required
@require_http_methods(["GET", "HEAD"])
def job_download(request: HttpRequest, job_id: str) -> HttpResponseBase:
    job = selectors.job_get(request_user(request), job_id)
    return serve_file(
        request,
        job.output.name,
        download_name=result_download_name(job),
        as_attachment=True,
        content_type="video/mp4",
        within=request_user(request).storage_prefix,
    )


# --- History --------------------------------------------------------------------------------

HISTORY_PAGE_SIZE = 20


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    qs = batches_for_user(request_user(request), search=search).prefetch_related(
        Prefetch("jobs", queryset=RenderJob.objects.select_related("template").order_by("position"))
    )
    page = Paginator(qs, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for batch in page:
        jobs = list(batch.jobs.all())
        thumbs = [j.template for j in jobs if j.template is not None and j.template.thumbnail][:4]
        rows.append({"batch": batch, "counts": batch_counts(batch), "thumbs": thumbs})
    return render(
        request,
        "jobs/history.html",
        {"page": page, "rows": rows, "search": search, "nav": "history"},
    )


@login_required
@require_POST
def batches_delete_selected(request: HttpRequest) -> HttpResponse:
    """Delete the selected batches; ids that are not the user's are simply not found."""
    ids = []
    for raw in request.POST.getlist("batch")[: HISTORY_PAGE_SIZE * 5]:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    batches = list(Batch.objects.for_user(request_user(request)).filter(pk__in=ids))
    for batch in batches:
        services.batch_delete(batch=batch)
    messages.success(
        request,
        ngettext(
            "Deleted %(n)d batch and its videos.",
            "Deleted %(n)d batches and their videos.",
            len(batches),
        )
        % {"n": len(batches)},
    )
    return redirect("history")
