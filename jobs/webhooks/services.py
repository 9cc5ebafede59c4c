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

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from jobs.models import (
    WEBHOOK_PING_EVENT,
    Batch,
    DeliveryStatus,
    JobStatus,
    RenderJob,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from jobs.queue import enqueue_on_commit
from jobs.selectors import batch_counts

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger("heygem.webhooks")

DELIVER_TASK = "jobs.tasks.webhook_deliver"
USER_AGENT = "HeyGem-Webhooks/1"
MAX_URL_LENGTH = 2000
EVENT_NAMES = tuple(str(e.value) for e in WebhookEvent)

Payload = dict[str, Any]


# --- Selectors ------------------------------------------------------------------------------


def webhooks_for_user(user: User) -> QuerySet[Webhook]:
    return Webhook.objects.for_user(user).order_by("created_at")


def webhook_get(user: User, webhook_id: object) -> Webhook:
    """One of the user's webhooks; a missing or foreign id is a 404."""
    return get_object_or_404(Webhook.objects.for_user(user), pk=webhook_id)


def deliveries_for_webhook(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """A webhook's deliveries, newest first (the caller got the webhook through its owner)."""
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at")


# --- URL safety -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL: where to connect (the vetted addresses) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


_EXAMPLE = "Write it like https://example.com/hooks/heygem."


def _address_problem(address: str) -> str | None:
    """Why an address is no place to send user-chosen requests to, or None when it is public."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]  # an IPv6 zone id ("fe80::1%eth0") is not part of the address
    )
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address (the server itself)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:  # before is_private, which also covers 240.0.0.0/4
        return "a reserved address"
    if ip.is_private:
        return "a private network address"
    if not ip.is_global:
        return "an address that is not on the public internet"
    return None


def webhook_target(url: str) -> WebhookTarget:
    """Check a webhook URL and resolve its host; raise ValidationError with a sentence.

    Only http(s); no user name or password in the URL; every address the host resolves to
    must be public unless WEBHOOK_ALLOW_PRIVATE_TARGETS is on. Called when a webhook is saved
    and again before every delivery, whose connection then goes to the addresses checked
    here (a DNS answer that changes in between cannot redirect it to a private address).
    """
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(
            f"This URL is longer than {MAX_URL_LENGTH} characters. Use a shorter one."
        )
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError:
        raise ValidationError(f"This is not a URL we can read. {_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError(f"Webhook URLs must start with https:// or http://. {_EXAMPLE}")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "Remove the user name and password from the URL. To know a delivery is ours, "
            "check its X-HeyGem-Signature header."
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationError(f"This URL has no host name. {_EXAMPLE}")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationError(f"This URL contains spaces or control characters. {_EXAMPLE}")
    port = explicit_port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError(
            f"We could not find the host {host}. Check its spelling and that its DNS record exists."
        ) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            problem = _address_problem(address)
            if problem:
                where = f"{host} is" if host == address else f"{host} resolves to {address},"
                raise ValidationError(
                    f"{where} {problem}. Webhooks can only be sent to addresses on the public "
                    "internet; use a public URL."
                )
    return WebhookTarget(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


# --- Webhook services -----------------------------------------------------------------------


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(e).strip() for e in events if str(e).strip()))
    if not chosen:
        raise ValidationError("Pick at least one event to receive.")
    unknown = [e for e in chosen if e not in EVENT_NAMES]
    if unknown:
        raise ValidationError(
            f"{unknown[0]!r} is not an event we send. Pick from {', '.join(EVENT_NAMES)}."
        )
    return [e for e in EVENT_NAMES if e in chosen]  # one stable order


def webhook_create(*, owner: User, url: str, events: Iterable[str]) -> Webhook:
    """Register a URL for some events, with a new signing secret."""
    url = url.strip()
    chosen = _clean_events(events)
    webhook_target(url)
    with transaction.atomic():
        # Lock the user's row so two parallel requests cannot both pass the limit.
        from accounts.models import User as UserModel

        locked = UserModel.objects.select_for_update().get(pk=owner.pk)
        if Webhook.objects.for_user(locked).count() >= settings.WEBHOOK_MAX_PER_USER:
            raise ValidationError(
                f"You can have at most {settings.WEBHOOK_MAX_PER_USER} webhooks. Delete one you no longer use first."
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
        owner_id=job.batch.owner_id, event=event, payload=lambda: _job_event_data(job_id)
    )


def batch_completed_emit(*, batch_id: Any) -> None:
    """batch.completed, when a batch's last active job finishes (see `_finish_batch_if_done`).

    Only the batch id is at hand there, so its owner's webhooks are found through the batch.
    """
    _emit_on_commit(
        Webhook.objects.filter(owner__batches__id=batch_id),
        event=WebhookEvent.BATCH_COMPLETED,
        payload=lambda: _batch_event_data(batch_id),
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
    body = {"id": event_id, "type": str(event), "created": _iso(now), "data": data}
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


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _job_json(job: RenderJob) -> Payload:
    done = job.status == JobStatus.SUCCEEDED and bool(job.output)
    return {
        "id": str(job.pk),
        "batch_id": str(job.batch_id),
        "position": job.position,
        "template_name": job.template_name,
        "status": job.status,
        "attempts": job.attempts,
        "error_message": job.error_message,
        # Relative, so the receiver joins it to the address it knows the site by.
        "result_path": reverse("job_download", args=[job.pk]) if done else None,
        "output_size": job.output_size,
        "output_duration": job.output_duration,
        "finished_at": _iso(job.finished_at),
    }


def _batch_json(batch: Batch) -> Payload:
    counts = batch_counts(batch)
    return {
        "id": str(batch.pk),
        "name": batch.name,
        "engine": batch.engine,
        "status": counts.status,
        "counts": {
            "total": counts.total,
            "succeeded": counts.succeeded,
            "failed": counts.failed,
            "canceled": counts.canceled,
            "queued": counts.queued,
            "running": counts.running,
        },
        "path": reverse("batch_detail", args=[batch.pk]),
        "created_at": _iso(batch.created_at),
        "finished_at": _iso(batch.finished_at),
    }


def _job_event_data(job_id: Any) -> Payload | None:
    job = RenderJob.objects.select_related("batch").filter(pk=job_id).first()
    if job is None:
        return None
    return {"job": _job_json(job), "batch": _batch_json(job.batch)}


def _batch_event_data(batch_id: Any) -> Payload | None:
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        return None
    data = _batch_json(batch)
    data["jobs"] = [_job_json(job) for job in batch.jobs.order_by("position")]
    return {"batch": data}


# --- Delivery -------------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The X-HeyGem-Signature value for a body sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _connect(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    last: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            last = exc
    raise last


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to addresses checked beforehand, not to whatever DNS says a moment later."""

    def __init__(self, target: WebhookTarget, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, float(self.timeout or 5))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: WebhookTarget, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._addresses = target.addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, float(self.timeout or 5))
        # The certificate is checked against the host name, not the address we dialled.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _post(target: WebhookTarget, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST once. Returns (HTTP status or None, a sentence saying what went wrong or '')."""
    timeout = float(settings.WEBHOOK_TIMEOUT)
    where = f"{target.host}:{target.port}"
    conn: http.client.HTTPConnection = (
        _PinnedHTTPSConnection(target, timeout)
        if target.scheme == "https"
        else _PinnedHTTPConnection(target, timeout)
    )
    try:
        # http.client never follows redirects: a 3xx is reported, never chased to another host.
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        code, reason = response.status, response.reason
    except TimeoutError:
        return (
            None,
            f"{where} did not answer within {timeout:g} s. Make the receiver answer sooner (queue slow work).",
        )
    except ConnectionRefusedError:
        return None, f"{where} refused the connection. Check that the receiver is running."
    except ssl.SSLError as exc:
        return (
            None,
            f"The TLS handshake with {where} failed ({exc.reason or exc}). Check its certificate.",
        )
    except OSError as exc:
        return (
            None,
            f"Could not reach {where} ({exc.strerror or exc}). Check that the receiver is online.",
        )
    except http.client.HTTPException as exc:
        return None, f"{where} sent an answer that is not valid HTTP ({type(exc).__name__})."
    finally:
        conn.close()
    if 200 <= code < 300:
        return code, ""
    if 300 <= code < 400:
        return (
            code,
            f"The receiver answered {code} {reason} (a redirect); redirects are not followed. Register the final URL.",
        )
    return code, f"The receiver answered {code} {reason}; only a 2xx status counts as delivered."


def _body(payload: Payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def webhook_delivery_attempt(*, delivery_id: Any, now: datetime | None = None) -> str:
    """Send one delivery, if it is due, and record the outcome. Safe to run twice.

    1. Skip unless the delivery is pending and due (`now`, default the clock): an early or
       duplicate task does nothing.
    2. Claim it with a conditional update on its attempt count: exactly one caller wins,
       and the claim pushes next_attempt_at out so a twin task finds it not due.
    3. Check the URL again (its DNS may now point somewhere private), sign and POST to the
       checked addresses.
    4. Record a 2xx as delivered; otherwise schedule the next attempt (a django-q2 ONCE
       schedule) or, after the last, mark it failed.

    Returns "succeeded", "retrying", "failed", or why nothing was sent.
    """
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:
        return "missing"
    if delivery.status != DeliveryStatus.PENDING:
        return f"already {delivery.status}"
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        return "not due"
    attempt = delivery.attempts + 1
    lease = timezone.now() + timedelta(seconds=4 * float(settings.WEBHOOK_TIMEOUT) + 60)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(attempts=attempt, next_attempt_at=lease)
    if not claimed:
        return "not claimed"

    webhook = delivery.webhook
    code: int | None = None
    final = False
    if not webhook.active and delivery.event != WEBHOOK_PING_EVENT:
        error, final = "The webhook was paused, so this delivery was not sent.", True
    else:
        try:
            target = webhook_target(webhook.url)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            body = _body(delivery.payload)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-HeyGem-Event": delivery.event,
                "X-HeyGem-Delivery": str(delivery.pk),
                "X-HeyGem-Signature": webhook_signature(
                    secret=webhook.secret, timestamp=int(time.time()), body=body
                ),
            }
            code, error = _post(target, body, headers)
    return _delivery_record(delivery, attempt=attempt, code=code, error=error, final=final)


def _delivery_record(
    delivery: WebhookDelivery, *, attempt: int, code: int | None, error: str, final: bool
) -> str:
    finished = timezone.now()
    mine = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=attempt
    )
    ids = {
        "user_id": delivery.webhook.owner_id,
        "webhook_id": str(delivery.webhook_id),
        "delivery_id": str(delivery.pk),
        "event": delivery.event,
        "attempt": attempt,
        "status_code": code,
    }
    if not error:
        mine.update(
            status=DeliveryStatus.SUCCEEDED,
            last_status_code=code,
            last_error="",
            delivered_at=finished,
            next_attempt_at=None,
        )
        log.info("webhook delivered", extra=ids)
        return "succeeded"
    delays = list(settings.WEBHOOK_RETRY_DELAYS)
    if final or attempt > len(delays):
        mine.update(
            status=DeliveryStatus.FAILED,
            last_status_code=code,
            last_error=error,
            next_attempt_at=None,
        )
        log.warning("webhook delivery failed", extra=ids | {"reason": error})
        return "failed"
    next_at = finished + timedelta(seconds=delays[attempt - 1])
    if mine.update(last_status_code=code, last_error=error, next_attempt_at=next_at):
        _schedule_attempt(delivery_id=delivery.pk, attempt=attempt + 1, when=next_at)
    log.info("webhook delivery will be retried", extra=ids | {"reason": error})
    return "retrying"


def schedule_name(*, delivery_id: Any, attempt: int) -> str:
    return f"webhook delivery {delivery_id} attempt {attempt}"


def _schedule_attempt(*, delivery_id: Any, attempt: int, when: datetime) -> None:
    """A django-q2 ONCE schedule runs the delivery task again at `when` (and is then deleted).

    The name is per attempt, so a twin that gets here too finds it taken and stops.
    """
    from django_q.models import Schedule
    from django_q.tasks import schedule

    with contextlib.suppress(IntegrityError):
        schedule(
            DELIVER_TASK,
            str(delivery_id),
            name=schedule_name(delivery_id=delivery_id, attempt=attempt),
            schedule_type=Schedule.ONCE,
            next_run=when,
            repeats=-1,
        )
