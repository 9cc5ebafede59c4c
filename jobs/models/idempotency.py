"""Idempotency records: the API's answers to create requests, kept for a retried request."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The answer to an API create request sent with an ``Idempotency-Key`` header, so a
    script that retries after a timeout gets the same batch instead of a second one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="idempotency_records",
        verbose_name=_("user"),
    )
    key = models.CharField(max_length=255, verbose_name=_("idempotency key"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    status_code = models.PositiveSmallIntegerField(verbose_name=_("HTTP status"))
    body = models.JSONField(verbose_name=_("answer body"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        # Moved here from accounts (migrations accounts.0006 / jobs.0018 move only the
        # model's state): the table keeps the name it was created with.
        db_table = "accounts_idempotencyrecord"
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=("user", "key"), name="idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return self.key
