"""Sending webhook deliveries: the URL check (public addresses only, pinned for the
connection), the signed POST, and retries through django-q2 ONCE schedules.

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
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django_q.models import Schedule
from django_q.tasks import schedule

from jobs.models import (
    WEBHOOK_PING_EVENT,
    DeliveryStatus,
    WebhookDelivery,
)
from jobs.webhooks.payloads import Payload

if TYPE_CHECKING:
    pass

log = logging.getLogger("heygem.webhooks")

DELIVER_TASK = "jobs.tasks.webhook_deliver"
USER_AGENT = "HeyGem-Webhooks/1"
MAX_URL_LENGTH = 2000


# --- URL safety -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL: where to connect (the vetted addresses) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


_EXAMPLE = gettext_lazy("Write it like https://example.com/hooks/heygem.")


def _address_problem(address: str) -> str | None:
    """Why an address is no place to send user-chosen requests to, or None when it is public."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]  # an IPv6 zone id ("fe80::1%eth0") is not part of the address
    )
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_unspecified:
        return gettext("an unspecified address")
    if ip.is_loopback:
        return gettext("a loopback address (the server itself)")
    if ip.is_link_local:
        return gettext("a link-local address")
    if ip.is_multicast:
        return gettext("a multicast address")
    if ip.is_reserved:  # before is_private, which also covers 240.0.0.0/4
        return gettext("a reserved address")
    if ip.is_private:
        return gettext("a private network address")
    if not ip.is_global:
        return gettext("an address that is not on the public internet")
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
            gettext("This URL is longer than %(n)d characters. Use a shorter one.")
            % {"n": MAX_URL_LENGTH}
        )
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError:
        raise ValidationError(gettext("This is not a URL we can read.") + f" {_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError(
            gettext("Webhook URLs must start with https:// or http://.") + f" {_EXAMPLE}"
        )
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            gettext(
                "Remove the user name and password from the URL. To know a delivery is ours, "
                "check its X-HeyGem-Signature header."
            )
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationError(gettext("This URL has no host name.") + f" {_EXAMPLE}")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationError(
            gettext("This URL contains spaces or control characters.") + f" {_EXAMPLE}"
        )
    port = explicit_port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError(
            gettext(
                "We could not find the host %(host)s. Check its spelling and that its DNS record exists."
            )
            % {"host": host}
        ) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            problem = _address_problem(address)
            if problem:
                if host == address:
                    where = gettext("%(host)s is %(problem)s.") % {"host": host, "problem": problem}
                else:
                    where = gettext("%(host)s resolves to %(address)s, %(problem)s.") % {
                        "host": host,
                        "address": address,
                        "problem": problem,
                    }
                raise ValidationError(
                    where
                    + " "
                    + gettext(
                        "Webhooks can only be sent to addresses on the public internet; use a public URL."
                    )
                )
    return WebhookTarget(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


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
    # A test ping may go to a paused webhook once (the owner asked for it); its retries, like
    # every other delivery's, stop as soon as the webhook is paused.
    if not webhook.active and (delivery.event != WEBHOOK_PING_EVENT or attempt > 1):
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
    with contextlib.suppress(IntegrityError):
        schedule(
            DELIVER_TASK,
            str(delivery_id),
            name=schedule_name(delivery_id=delivery_id, attempt=attempt),
            schedule_type=Schedule.ONCE,
            next_run=when,
            repeats=-1,
        )
