"""Audio clips and templates in the admin, and the delete-with-files behaviour all share."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from heygem_site.formats import size_label
from jobs import services
from jobs.models import (
    AudioClip,
    Template,
)


class DeleteWithFilesMixin:
    """Deleting from the admin goes through the same services as the user's pages:
    mark, commit, delete files, delete rows, with usage kept exact."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._delete_one(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            try:
                self._delete_one(obj)
            except ValidationError as exc:
                messages.error(request, f"{obj}: {' '.join(exc.messages)}")

    def _delete_one(self, obj: Any) -> None:
        raise NotImplementedError


@admin.register(AudioClip)
class AudioClipAdmin(DeleteWithFilesMixin, admin.ModelAdmin[AudioClip]):
    list_display = ("original_name", "owner", "duration", "sample_rate", "size", "created_at")
    list_filter = ("created_at",)
    search_fields = ("original_name", "owner__email", "content_hash")
    list_select_related = ("owner",)
    readonly_fields = ("id", "content_hash", "file", "size_bytes", "created_at")
    raw_id_fields = ("owner",)

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, clip: AudioClip) -> str:
        return size_label(clip.size_bytes)

    def _delete_one(self, obj: Any) -> None:
        services.audio_delete(clip=obj)


@admin.register(Template)
class TemplateAdmin(DeleteWithFilesMixin, admin.ModelAdmin[Template]):
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
    # The face choice is the user's (template card, API): staff see it, services write it.
    readonly_fields = (
        "id",
        "content_hash",
        "file",
        "thumbnail",
        "size_bytes",
        "faces",
        "face_choice",
        "created_at",
    )
    raw_id_fields = ("owner",)

    @admin.display(description=_("resolution"))
    def resolution(self, template: Template) -> str:
        return f"{template.width}×{template.height}"

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, template: Template) -> str:
        return size_label(template.size_bytes)

    def _delete_one(self, obj: Any) -> None:
        services.template_delete(template=obj)
