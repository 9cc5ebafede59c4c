"""Export links: short-lived, revocable download links for a ZIP of batches."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    pass


class ExportToken(models.Model):
    """A download link for a ZIP of some of a user's batches: an opaque random token (only its
    SHA-256 is stored), short-lived, listed on the owner's account page while valid, and
    revocable there by the owner or in the admin."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_tokens",
        verbose_name=_("owner"),
    )
    token_sha256 = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("token SHA-256")
    )
    # UUID strings, in the archive's order
    batch_ids = models.JSONField(default=list, verbose_name=_("batch IDs"))
    finished_only = models.BooleanField(default=False, verbose_name=_("finished videos only"))
    filename = models.CharField(max_length=255, verbose_name=_("file name"))
    # when the link was made
    size = models.BigIntegerField(default=0, verbose_name=_("size (bytes)"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    expires_at = models.DateTimeField(verbose_name=_("expires"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["owner", "expires_at"], name="export_owner_expires")]
        verbose_name = _("export link")
        verbose_name_plural = _("export links")

    def __str__(self) -> str:
        return f"{self.filename} ({self.owner_id})"

    def is_valid(self, now: Any = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())
