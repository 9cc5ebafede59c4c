from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from jobs.export import export_archive_for_admin, export_response
from jobs.models import AudioClip, Batch, RenderJob, Template
from jobs.selectors import batch_counts, with_job_counts


@admin.register(AudioClip)
class AudioClipAdmin(admin.ModelAdmin[AudioClip]):
    list_display = ("original_name", "owner", "duration", "sample_rate", "size", "created_at")
    list_filter = ("created_at",)
    search_fields = ("original_name", "owner__email", "content_hash")
    list_select_related = ("owner",)
    readonly_fields = ("id", "content_hash", "file", "size_bytes", "created_at")
    raw_id_fields = ("owner",)

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, clip: AudioClip) -> str:
        return filesizeformat(clip.size_bytes)


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin[Template]):
    list_display = (
        "original_name",
        "owner",
        "resolution",
        "fps",
        "duration",
        "face_status",
        "size",
        "created_at",
    )
    list_filter = ("face_status", "created_at")
    search_fields = ("original_name", "owner__email", "content_hash")
    list_select_related = ("owner",)
    readonly_fields = ("id", "content_hash", "file", "thumbnail", "size_bytes", "created_at")
    raw_id_fields = ("owner",)

    @admin.display(description=_("resolution"))
    def resolution(self, template: Template) -> str:
        return f"{template.width}×{template.height}"

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, template: Template) -> str:
        return filesizeformat(template.size_bytes)


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


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin[Batch]):
    list_display = ("name", "owner", "engine", "progress", "created_at", "finished_at")
    list_filter = ("engine", "created_at")
    search_fields = ("name", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("id", "created_at", "finished_at", "canceled_at")
    raw_id_fields = ("owner", "audio")
    inlines = (RenderJobInline,)
    actions = ("export_zip",)

    @admin.action(description=_("Download the selected batches as one ZIP"))
    def export_zip(self, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponse:
        # The same streamed archive as the users' "Download selected" (jobs/export.py).
        return export_response(request, export_archive_for_admin(batches=queryset))

    @admin.display(description=_("status"))
    def progress(self, batch: Batch) -> str:
        counts = batch_counts(batch)
        return f"{counts.status} · {counts.succeeded}/{counts.total} done, {counts.failed} failed"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        return with_job_counts(super().get_queryset(request))


@admin.register(RenderJob)
class RenderJobAdmin(admin.ModelAdmin[RenderJob]):
    list_display = (
        "template_name",
        "batch",
        "position",
        "status",
        "progress",
        "attempts",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "batch__engine")
    search_fields = ("template_name", "batch__name", "batch__owner__email")
    list_select_related = ("batch",)
    readonly_fields = ("id", "created_at", "started_at", "finished_at", "heartbeat_at", "log")
    raw_id_fields = ("batch", "template")
