"""Webhooks: a user's receiving URLs and the deliveries of signed events to them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.models.library import OwnedQuerySet

if TYPE_CHECKING:
    from accounts.models import User


class WebhookEvent(models.TextChoices):
    BATCH_COMPLETED = "batch.completed", _("Batch completed")
    JOB_SUCCEEDED = "job.succeeded", _("Video done")
    JOB_FAILED = "job.failed", _("Video failed")


# Sent only by "Send test event"; never something a webhook subscribes to.
WEBHOOK_PING_EVENT = "ping"


class Webhook(models.Model):
    """A URL of the user's that receives signed event deliveries."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webhooks",
        verbose_name=_("owner"),
    )
    url = models.URLField(max_length=2000, verbose_name=_("URL"))
    # A list of WebhookEvent values; matched in Python (a user has a handful of webhooks),
    # which works the same on SQLite and PostgreSQL.
    events = models.JSONField(default=list, verbose_name=_("events"))
    # Kept in clear: we need it to sign every delivery, and the user may look at it again.
    secret = models.CharField(max_length=80, verbose_name=_("secret"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))

    objects: ClassVar[OwnedQuerySet] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("created_at",)
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        indexes = [models.Index(fields=["owner", "active"], name="webhook_owner_active")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDeliveryQuerySet(models.QuerySet["WebhookDelivery"]):
    def for_user(self, user: User) -> WebhookDeliveryQuerySet:
        return self.filter(webhook__owner=user)


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook, with the outcome of its last attempt."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    event = models.CharField(max_length=32, verbose_name=_("event"))
    event_id = models.CharField(max_length=40, verbose_name=_("event ID"))
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_status_code = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("last HTTP status")
    )
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered"))

    objects: ClassVar[WebhookDeliveryQuerySet] = WebhookDeliveryQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            # One event reaches one webhook once, however often its emission is replayed.
            models.UniqueConstraint(fields=["webhook", "event_id"], name="delivery_unique_event")
        ]
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} → {self.webhook_id}"
