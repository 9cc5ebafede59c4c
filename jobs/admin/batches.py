"""Batches and render jobs in the admin: status filters, queue overview, retry and export actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from heygem_site.formats import batch_status_label
from jobs import services
from jobs.admin.library import DeleteWithFilesMixin
from jobs.export import export_archive_for_admin
from jobs.export_views import export_response
from jobs.models import (
    Batch,
    JobStatus,
    RenderJob,
)
from jobs.render.job_log import log_text
from jobs.selectors import (
    BatchStatus,
    batch_counts,
    batches_with_status,
    queue_overview,
    with_job_counts,
)
from jobs.user_errors import job_error_text
from jobs.words import transcripts


class RenderJobInline(admin.TabularInline[RenderJob, Batch]):
    model = RenderJob
    extra = 0
    can_delete = False
    fields = (
        "position",
        "template_name",
        "status",
        "progress",
        "attempts",
        "error_message",
        "output_size",
    )
    readonly_fields = fields
    show_change_link = True


class BatchStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (s, batch_status_label(s))
            for s in (
                BatchStatus.QUEUED,
                BatchStatus.RUNNING,
                BatchStatus.DONE,
                BatchStatus.DONE_WITH_FAILURES,
                BatchStatus.CANCELED,
            )
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return batches_with_status(queryset, value) if value else queryset


@admin.register(Batch)
class BatchAdmin(DeleteWithFilesMixin, admin.ModelAdmin[Batch]):
    list_display = ("name", "owner", "engine", "progress", "created_at", "finished_at")
    list_filter = (BatchStatusFilter, "engine", "created_at")
    search_fields = ("name", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = (
        "id",
        "created_at",
        "finished_at",
        "canceled_at",
        "transcript_note",
        "transcript",
    )
    raw_id_fields = ("owner", "audio")
    inlines = (RenderJobInline,)
    actions = ("retry_failed", "cancel", "delete_with_files", "export_zip")

    @admin.display(description=_("Why there is no transcript"))
    def transcript_note(self, batch: Batch) -> str:
        return transcripts.transcript_note(batch)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # Django's bulk delete skips our services; "delete with files" replaces it.
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "queue": queue_overview()}
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Retry failed and canceled videos"), permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        n = 0
        for batch in queryset.select_related("owner"):
            try:
                n += services.batch_retry_failed(batch=batch)
            except ValidationError as exc:  # the owner's limits apply to staff retries too
                messages.error(request, f"{batch.name} ({batch.owner}): {' '.join(exc.messages)}")
        self.message_user(
            request,
            ngettext("%(n)d video is back in the queue.", "%(n)d videos are back in the queue.", n)
            % {"n": n},
        )

    @admin.action(description=_("Cancel queued and running videos"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        n = sum(services.batch_cancel(batch=b) for b in queryset.select_related("owner"))
        self.message_user(
            request, ngettext("Canceled %(n)d video.", "Canceled %(n)d videos.", n) % {"n": n}
        )

    @admin.action(description=_("Delete with their files"), permissions=["delete"])
    def delete_with_files(
        self, request: HttpRequest, queryset: QuerySet[Batch]
    ) -> TemplateResponse | None:
        batches = list(queryset.select_related("owner"))
        for batch in batches:
            services.batch_delete(batch=batch)
        self.message_user(
            request,
            ngettext(
                "Deleted %(n)d batch and its videos.",
                "Deleted %(n)d batches and their videos.",
                len(batches),
            )
            % {"n": len(batches)},
        )
        return None

    def _delete_one(self, obj: Any) -> None:
        services.batch_delete(batch=obj)

    @admin.action(description=_("Download the selected batches as one ZIP"))
    def export_zip(self, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponseBase:
        # The same streamed archive as the users' "Download selected" (jobs/export.py).
        return export_response(request, export_archive_for_admin(batches=queryset))

    @admin.display(description=_("status"))
    def progress(self, batch: Batch) -> str:
        counts = batch_counts(batch)
        return _("%(status)s · %(done)d/%(total)d done, %(failed)d failed") % {
            "status": batch_status_label(counts.status),
            "done": counts.succeeded,
            "total": counts.total,
            "failed": counts.failed,
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        return with_job_counts(super().get_queryset(request))


class AttemptsFilter(admin.SimpleListFilter):
    title = _("attempts")
    parameter_name = "attempts"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("1", _("one")), ("2+", _("more than one"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "1":
            return queryset.filter(attempts__lte=1)
        if self.value() == "2+":
            return queryset.filter(attempts__gte=2)
        return queryset


@admin.register(RenderJob)
class RenderJobAdmin(DeleteWithFilesMixin, admin.ModelAdmin[RenderJob]):
    """Render jobs for staff: find them by owner, batch, template or error; retry and cancel go
    through the same services as the user's buttons, so limits and the lifecycle hold. The
    status is never typed by hand (the worker and the services own it)."""

    list_display = (
        "template_name",
        "owner",
        "batch_link",
        "status",
        "progress_percent",
        "attempts",
        "error_short",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", AttemptsFilter, "error_code", "batch__engine", "created_at")
    search_fields = (
        "template_name",
        "batch__name",
        "batch__owner__email",
        "error_message",
        "error_code",
    )
    list_select_related = ("batch", "batch__owner")
    date_hierarchy = "created_at"
    actions = ("retry", "cancel", "delete_with_files")
    readonly_fields = (
        "id",
        "batch",
        "template",
        "template_name",
        "position",
        "status",
        "progress",
        "attempts",
        "error_message",
        "error_code",
        "error_params",
        "output",
        "output_size",
        "output_duration",
        "output_sha256",
        "estimated_output_bytes",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "queued_at",
        "quality",
        "log_worded",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are made by starting a batch

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "delete with files" goes through the services
        return actions

    @admin.display(description=_("owner"), ordering="batch__owner__email")
    def owner(self, job: RenderJob) -> str:
        return str(job.batch.owner)

    @admin.display(description=_("batch"), ordering="batch__name")
    def batch_link(self, job: RenderJob) -> str:
        url = reverse("admin:jobs_batch_change", args=[job.batch_id])
        return format_html('<a href="{}">{}</a>', url, job.batch.name)

    @admin.display(description=_("log"))
    def log_worded(self, job: RenderJob) -> str:
        # Stored as codes (jobs.render.job_log): shown in the reader's language.
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', log_text(job.log))

    @admin.display(description=_("progress"), ordering="progress")
    def progress_percent(self, job: RenderJob) -> str:
        return f"{round(job.progress * 100)} %"

    @admin.display(description=_("error"), ordering="error_code")
    def error_short(self, job: RenderJob) -> str:
        text = job_error_text(job)  # the reader's language, from the code
        return text if len(text) <= 90 else text[:89] + "…"

    @admin.action(description=_("Retry (failed or canceled ones)"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[RenderJob]) -> None:
        n = 0
        for job in queryset.select_related("batch", "batch__owner", "template"):
            if job.status not in (JobStatus.FAILED, JobStatus.CANCELED):
                continue
            try:
                n += int(services.job_retry(job=job))
            except ValidationError as exc:  # the owner's limits apply to staff retries too
                messages.error(
                    request, f"{job.template_name} ({job.batch.owner}): {' '.join(exc.messages)}"
                )
        self.message_user(
            request,
            ngettext("%(n)d video is back in the queue.", "%(n)d videos are back in the queue.", n)
            % {"n": n},
        )

    @admin.action(description=_("Cancel (queued or running ones)"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[RenderJob]) -> None:
        n = services.jobs_cancel(jobs=queryset)
        self.message_user(
            request, ngettext("Canceled %(n)d video.", "Canceled %(n)d videos.", n) % {"n": n}
        )

    @admin.action(description=_("Delete with their files"), permissions=["delete"])
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet[RenderJob]) -> None:
        jobs = list(queryset.select_related("batch"))
        for job in jobs:
            services.job_delete(job=job)
        self.message_user(
            request,
            ngettext("Deleted %(n)d video.", "Deleted %(n)d videos.", len(jobs)) % {"n": len(jobs)},
        )

    def _delete_one(self, obj: Any) -> None:
        services.job_delete(job=obj)


# --- Webhooks (created by users; staff look, and pause one that misbehaves) -----------------
