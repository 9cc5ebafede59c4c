from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

import heygem_site.admin_generics  # noqa: F401  (ModelAdmin[...] at run time)
from accounts.forms import UserAdminForm
from accounts.models import ApiKey, User
from accounts.services import api_key_revoke
from heygem_site.formats import percent_label, size_label


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Accounts, their limits and usage counter. What concerns their jobs and files (last
    activity, usage recomputed from storage, quota cleanup, deletion with every file) is
    added by jobs.admin.accounts, which registers its subclass of this one in its place."""

    form = UserAdminForm
    ordering = ("email",)
    list_display: tuple[str, ...] = (
        "email",
        "display_name",
        "usage",
        "max_concurrent_jobs",
        "retention_days",
        "is_staff",
        "is_active",
        "date_joined",
    )
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "display_name", "storage_id")
    readonly_fields = ("storage_id", "storage_used", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password", "display_name", "language", "time_zone")}),
        (_("Limits"), {"fields": ("storage_quota_bytes", "max_concurrent_jobs", "retention_days")}),
        (_("Usage"), {"fields": ("storage_id", "storage_used")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        # An account being deleted is already gone for staff; the sweeper finishes it.
        return super().get_queryset(request).filter(deleting_at__isnull=True)

    @admin.display(description=_("storage used / quota"), ordering="storage_used_bytes")
    def usage(self, user: User) -> str:
        share = 100 * user.storage_used_bytes / max(1, user.storage_quota_bytes)
        return (
            f"{size_label(user.storage_used_bytes)} / {size_label(user.storage_quota_bytes)}"
            f" ({percent_label(share)})"
        )

    @admin.display(description=_("storage used"))
    def storage_used(self, user: User) -> str:
        return size_label(user.storage_used_bytes)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Keys are created by their users (the raw key is shown to them once); staff can see
    who has which key and revoke it. The key's hash is never shown."""

    list_display = ("name", "user", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "user__display_name", "name", "prefix")
    list_select_related = ("user",)
    fields = ("user", "name", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True).select_related("user"))
        for key in keys:
            api_key_revoke(key=key)
        self.message_user(
            request,
            ngettext(
                "Revoked %(n)d API key; scripts using it get 401.",
                "Revoked %(n)d API keys; scripts using them get 401.",
                len(keys),
            )
            % {"n": len(keys)},
        )
