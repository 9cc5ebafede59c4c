"""Notices: what the service did to a user's data on its own, shown once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    pass


class Notice(models.Model):
    """Something the service did to a user's data on its own (quota cleanup, retention),
    shown once on their next page view."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notices",
        verbose_name=_("owner"),
    )
    message = models.TextField(verbose_name=_("message"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    shown_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shown"))
    # A quota warning: what the hourly cleanup will remove ([[kind, id], ...]: kind is
    # "result", "template" or "audio"), and from when, unless the user makes room first.
    # None once it was acted on (or the user fits again).
    planned = models.JSONField(null=True, blank=True, editable=False, verbose_name=_("planned"))
    due_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("due"))

    class Meta:
        ordering = ("created_at",)
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        indexes = [models.Index(fields=["owner", "shown_at"], name="notice_owner_shown")]

    def __str__(self) -> str:
        return self.message[:80]
