"""The user admin's side that concerns jobs and files: last activity (sign-in or batch), usage
recomputed from storage, quota cleanup (on a lowered quota and as an action) and deletions that
remove every batch and file. accounts.admin registers the plain account admin; this module
registers its subclass in that one's place, so the admin's addresses and names stay
``admin:accounts_user_*``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Max, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin import UserAdmin as AccountUserAdmin
from accounts.models import User
from heygem_site.formats import size_label
from jobs import services
from jobs.storage.cleanup import quota_cleanup
from jobs.storage.usage import usage_recompute


class UserAdmin(AccountUserAdmin):
    list_display = (
        "email",
        "display_name",
        "usage",
        "max_concurrent_jobs",
        "retention_days",
        "last_activity",
        "is_staff",
        "is_active",
        "date_joined",
    )
    actions = ("recompute_usage", "apply_quota", "delete_all_data", "delete_with_files")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(last_batch_at=Max("batches__created_at"))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by "delete with files"
        return actions

    @admin.display(description=_("last activity"), ordering="last_batch_at")
    def last_activity(self, user: User) -> Any:
        # The later of their last sign-in and their last batch.
        times = [t for t in (user.last_login, getattr(user, "last_batch_at", None)) if t]
        return max(times) if times else None

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "storage_quota_bytes" in form.changed_data:
            result = quota_cleanup(user_id=obj.pk)
            if result.removed:
                self.message_user(
                    request,
                    _(
                        "%(email)s was over the new quota: removed %(n)d items (%(size)s); "
                        "they will see a notice."
                    )
                    % {
                        "email": obj.email,
                        "n": len(result.removed),
                        "size": size_label(result.freed_bytes),
                    },
                )

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A batch PROTECTs its audio, which Django reports as blocking the account's
        # deletion; services.user_delete removes batches before the rest, so it is not.
        deleted, counts, perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed, []

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_delete(user=user)

    @admin.action(description=_("Recompute storage usage from disk"), permissions=["change"])
    def recompute_usage(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            drift = usage_recompute(user_id=user.pk, fix=True)
            self.message_user(
                request,
                (
                    _(
                        "%(email)s: recorded %(recorded)s, on disk %(on_disk)s (fixed, %(rows)d rows corrected)"
                    )
                    if drift.drift
                    else _("%(email)s: recorded %(recorded)s, on disk %(on_disk)s (no drift)")
                )
                % {
                    "email": drift.email,
                    "recorded": size_label(drift.recorded),
                    "on_disk": size_label(drift.on_disk),
                    "rows": drift.rows_fixed,
                },
            )

    @admin.action(
        description=_("Remove oldest results of users over quota"), permissions=["change"]
    )
    def apply_quota(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        removed = sum(len(quota_cleanup(user_id=u.pk).removed) for u in queryset)
        self.message_user(
            request, _("Removed %(n)d items to bring users under their quota.") % {"n": removed}
        )

    @admin.action(
        description=_("Delete all their data (keep the accounts)"), permissions=["change"]
    )
    def delete_all_data(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        freed = sum(services.user_data_delete(user=u) for u in queryset)
        self.message_user(
            request,
            _("Deleted all data of the selected users (%(size)s).") % {"size": size_label(freed)},
        )

    @admin.action(description=_("Delete accounts with all their files"), permissions=["delete"])
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset)
        self.delete_queryset(request, queryset)
        self.message_user(
            request,
            ngettext(
                "Deleted %(n)d account and its files.",
                "Deleted %(n)d accounts and their files.",
                len(users),
            )
            % {"n": len(users)},
        )


# In the place of accounts.admin's registration (imported above, so it ran first).
admin.site.unregister(User)
admin.site.register(User, UserAdmin)
