"""Housekeeping of the webhook and API tables, run by the hourly maintenance
(jobs.storage.cleanup.maintenance_run): deliveries stuck in `pending`, and rows kept too long."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import DeliveryStatus, IdempotencyRecord, WebhookDelivery
from jobs.render.queue import enqueue_on_commit
from jobs.webhooks.delivery import DELIVER_TASK

log = logging.getLogger("heygem.webhooks")

# Enough for any backlog an hour can build; the rest waits for the next run.
MAX_REQUEUED_PER_RUN = 1000


@dataclass
class HousekeepingResult:
    deliveries_requeued: int = 0
    deliveries_pruned: int = 0
    idempotency_pruned: int = 0

    def __str__(self) -> str:
        return (
            f"{self.deliveries_requeued} stuck webhook deliveries queued again, "
            f"{self.deliveries_pruned} old deliveries and "
            f"{self.idempotency_pruned} expired idempotency records deleted"
        )


def webhook_deliveries_requeue_stuck(*, now: datetime | None = None) -> int:
    """Queue again the pending deliveries nobody is working on; returns how many.

    A delivery is pending with a next attempt in the past when its worker died mid-POST
    (the claim's lease ran out), or when the task or its ONCE schedule was lost. Once that
    moment is WEBHOOK_STUCK_AFTER seconds gone, it is claimed by moving next_attempt_at to
    `now` with a conditional update (so two maintenance runs queue it once) and its task is
    queued on commit. The task itself claims before sending (jobs.webhooks.services), so a delivery
    whose old task turns up after all is still sent once.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.WEBHOOK_STUCK_AFTER)
    stuck = (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(
            Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff)
        )
        .order_by("created_at")
        .values_list("pk", "attempts", "next_attempt_at")[:MAX_REQUEUED_PER_RUN]
    )
    requeued = 0
    for pk, attempts, next_attempt_at in list(stuck):
        with transaction.atomic():
            claimed = WebhookDelivery.objects.filter(
                pk=pk,
                status=DeliveryStatus.PENDING,
                attempts=attempts,
                next_attempt_at=next_attempt_at,
            ).update(next_attempt_at=now)
            if claimed:
                enqueue_on_commit(DELIVER_TASK, str(pk))
                requeued += 1
    if requeued:
        log.warning("stuck webhook deliveries queued again", extra={"deliveries": requeued})
    return requeued


def webhook_deliveries_prune(*, now: datetime | None = None) -> int:
    """Delete delivery rows older than WEBHOOK_DELIVERY_KEEP_DAYS, whatever their outcome
    (a month-old pending one will never be sent). Returns how many."""
    now = now or timezone.now()
    before = now - timedelta(days=settings.WEBHOOK_DELIVERY_KEEP_DAYS)
    n, _ = WebhookDelivery.objects.filter(created_at__lt=before).delete()
    return int(n)


def idempotency_records_prune(*, now: datetime | None = None) -> int:
    """Delete Idempotency-Key answers older than API_IDEMPOTENCY_HOURS. The API also drops a
    user's expired ones on their next keyed request; this covers users who stopped calling."""
    now = now or timezone.now()
    before = now - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    n, _ = IdempotencyRecord.objects.filter(created_at__lt=before).delete()
    return int(n)


def housekeeping_run(*, now: datetime | None = None) -> HousekeepingResult:
    """Prune first, so a delivery about to be deleted is not queued again."""
    now = now or timezone.now()
    result = HousekeepingResult(
        deliveries_pruned=webhook_deliveries_prune(now=now),
        idempotency_pruned=idempotency_records_prune(now=now),
    )
    result.deliveries_requeued = webhook_deliveries_requeue_stuck(now=now)
    return result
