from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = (
        "email",
        "display_name",
        "usage",
        "max_concurrent_jobs",
        "retention_days",
        "is_staff",
        "is_active",
        "last_login",
        "date_joined",
    )
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "display_name", "storage_id")
    readonly_fields = ("storage_id", "storage_used_bytes", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password", "display_name")}),
        (_("Limits"), {"fields": ("storage_quota_bytes", "max_concurrent_jobs", "retention_days")}),
        (_("Usage"), {"fields": ("storage_id", "storage_used_bytes")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(description=_("storage used / quota"), ordering="storage_used_bytes")
    def usage(self, user: User) -> str:
        return f"{filesizeformat(user.storage_used_bytes)} / {filesizeformat(user.storage_quota_bytes)}"
