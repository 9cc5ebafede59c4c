"""Webhooks: a user's URLs receive signed JSON events when their videos and batches finish.

Services (writes) and selectors (reads) in the shape of `jobs.services`; the account page,
the API and the worker all call these. An event becomes one `WebhookDelivery` row per
subscribed webhook once the transaction that caused it commits; a django-q2 task sends each
(`jobs.tasks.webhook_deliver`), and a failed attempt is tried again later through a
django-q2 ONCE schedule, after each of `WEBHOOK_RETRY_DELAYS` in turn, then marked failed.

Every delivery is signed: ``X-HeyGem-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256, keyed with the webhook's secret, of ``f"{t}.".encode() + raw_body``.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from accounts.services import user_lock
from jobs.models import (
    WEBHOOK_PING_EVENT,
    RenderJob,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from jobs.render.queue import enqueue_on_commit
from jobs.selectors import iso_utc
from jobs.webhooks.delivery import DELIVER_TASK, webhook_target
from jobs.webhooks.payloads import Payload, batch_event_data, job_event_data

log = logging.getLogger("heygem.webhooks")

EVENT_NAMES = tuple(str(e.value) for e in WebhookEvent)


# --- Selectors ------------------------------------------------------------------------------


def webhooks_for_user(user: User) -> QuerySet[Webhook]:
    return Webhook.objects.for_user(user).order_by("created_at")


def webhook_get(user: User, webhook_id: object) -> Webhook:
    """One of the user's webhooks; a missing or foreign id is a 404."""
    return get_object_or_404(Webhook.objects.for_user(user), pk=webhook_id)


def deliveries_for_webhook(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """A webhook's deliveries, newest first (the caller got the webhook through its owner)."""
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at")


# --- Webhook services -----------------------------------------------------------------------


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(e).strip() for e in events if str(e).strip()))
    if not chosen:
        raise ValidationError(gettext("Pick at least one event to receive."))
    unknown = [e for e in chosen if e not in EVENT_NAMES]
    if unknown:
        raise ValidationError(
            gettext("“%(event)s” is not an event we send. Pick from %(events)s.")
            % {"event": unknown[0], "events": ", ".join(EVENT_NAMES)}
        )
    return [e for e in EVENT_NAMES if e in chosen]  # one stable order


def webhook_create(*, owner: User, url: str, events: Iterable[str]) -> Webhook:
    """Register a URL for some events, with a new signing secret."""
    url = url.strip()
    chosen = _clean_events(events)
    webhook_target(url)
    with transaction.atomic():
        # Lock the user's row so two parallel requests cannot both pass the limit.
        locked = user_lock(owner.pk)
        if Webhook.objects.for_user(locked).count() >= settings.WEBHOOK_MAX_PER_USER:
            raise ValidationError(
                gettext("You can have at most %(n)d webhooks. Delete one you no longer use first.")
                % {"n": settings.WEBHOOK_MAX_PER_USER}
            )
        webhook = Webhook.objects.create(owner=locked, url=url, events=chosen, secret=_new_secret())
    log.info("webhook created", extra={"user_id": owner.pk, "webhook_id": str(webhook.pk)})
    return webhook


def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    events: Iterable[str] | None = None,
    active: bool | None = None,
    rotate_secret: bool = False,
) -> Webhook:
    """Change a webhook's URL, events or active flag, or give it a new secret (the old one stops at once)."""
    fields: list[str] = []
    if url is not None:
        webhook_target(url)
        webhook.url = url.strip()
        fields.append("url")
    if events is not None:
        webhook.events = _clean_events(events)
        fields.append("events")
    if active is not None:
        webhook.active = active
        fields.append("active")
    if rotate_secret:
        webhook.secret = _new_secret()
        fields.append("secret")
    if fields:
        webhook.save(update_fields=fields)
        log.info(
            "webhook updated",
            extra={"user_id": webhook.owner_id, "webhook_id": str(webhook.pk), "fields": fields},
        )
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete a webhook and its delivery history; retries still scheduled find nothing and stop."""
    ids = {"user_id": webhook.owner_id, "webhook_id": str(webhook.pk)}
    webhook.delete()
    log.info("webhook deleted", extra=ids)


def webhook_ping(*, webhook: Webhook) -> WebhookDelivery:
    """Send a test event to one webhook, whatever it subscribes to and even when paused."""
    data = {
        "webhook_id": str(webhook.pk),
        "message": "This is a test event from HeyGem Studio. If its signature verifies, you are set.",
    }
    (delivery,) = _deliveries_create([webhook], event=WEBHOOK_PING_EVENT, data=data)
    return delivery


# --- Events ---------------------------------------------------------------------------------


def webhook_event_emit(
    *, owner_id: int, event: str, payload: Payload | Callable[[], Payload | None]
) -> None:
    """Queue this event for the user's active webhooks that subscribe to it, once the current
    transaction commits (at once outside one; nothing at all if it rolls back).

    `payload` is the event's data, or a function that builds it: it runs only when some
    webhook wants the event, so for a user without webhooks an event costs one indexed query
    after commit and nothing inside the caller's transaction.
    """
    _emit_on_commit(Webhook.objects.filter(owner_id=owner_id), event=event, payload=payload)


def job_event_emit(*, job: RenderJob, event: str) -> None:
    """job.succeeded / job.failed for one job (called by the services that finish a job)."""
    job_id = job.pk
    webhook_event_emit(
        owner_id=job.batch.owner_id, event=event, payload=lambda: job_event_data(job_id)
    )


def batch_completed_emit(*, batch_id: Any) -> None:
    """batch.completed, when a batch's last active job finishes (see `_finish_batch_if_done`).

    Only the batch id is at hand there, so its owner's webhooks are found through the batch.
    """
    _emit_on_commit(
        Webhook.objects.filter(owner__batches__id=batch_id),
        event=WebhookEvent.BATCH_COMPLETED,
        payload=lambda: batch_event_data(batch_id),
    )


def _emit_on_commit(
    webhooks: QuerySet[Webhook], *, event: str, payload: Payload | Callable[[], Payload | None]
) -> None:
    def create() -> None:
        wanted = [w for w in webhooks.filter(active=True) if event in w.events]
        if not wanted:
            return
        data = payload() if callable(payload) else payload
        if data is not None:  # None: the row went away before we could describe it
            _deliveries_create(wanted, event=event, data=data)

    # robust: a webhook problem is logged and never breaks the render that caused the event.
    transaction.on_commit(create, robust=True)


def _deliveries_create(
    webhooks: list[Webhook], *, event: str, data: Payload
) -> list[WebhookDelivery]:
    now = timezone.now()
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {"id": event_id, "type": str(event), "created": iso_utc(now), "data": data}
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                webhook=w, event=str(event), event_id=event_id, payload=body, next_attempt_at=now
            )
            for w in webhooks
        )
        for delivery in deliveries:
            enqueue_on_commit(DELIVER_TASK, str(delivery.pk))
    log.info(
        "webhook event queued",
        extra={"user_id": webhooks[0].owner_id, "event": str(event), "deliveries": len(deliveries)},
    )
    return deliveries
