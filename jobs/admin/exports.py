"""Export links in the admin: listed, and revocable by an admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from heygem_site.formats import size_label
from jobs.export import export_link_revoke
from jobs.models import (
    ExportToken,
)


@admin.register(ExportToken)
class ExportTokenAdmin(admin.ModelAdmin[ExportToken]):
    """Download links: who made them, for what, until when; an admin can revoke them. The
    token itself is never stored (only its SHA-256), so it cannot be shown here."""

    list_display = ("filename", "owner", "archive_size", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("owner__email", "filename")
    readonly_fields = (
        "owner",
        "batch_ids",
        "finished_only",
        "filename",
        "size",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
    )
    fields = readonly_fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("size"), ordering="size")
    def archive_size(self, link: ExportToken) -> str:
        return size_label(link.size)

    @admin.action(description=_("Revoke the selected download links"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ExportToken]) -> None:
        user: Any = request.user
        n = sum(export_link_revoke(link=link, by=user) for link in queryset)
        self.message_user(
            request,
            ngettext("Revoked %(n)d download link.", "Revoked %(n)d download links.", n) % {"n": n},
        )
