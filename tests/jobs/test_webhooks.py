"""Webhook delivery against a real HTTP receiver on 127.0.0.1: the signature verifies with the
webhooks page's recipe (docs/webhooks.md), a failing receiver is retried by django-q2 ONCE schedules and then marked
failed, redirects are not followed, private targets are refused, a delivery is sent once."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import User
from jobs import tasks
from jobs.models import DeliveryStatus, Webhook, WebhookDelivery
from jobs.webhooks import delivery as webhook_delivery
from jobs.webhooks import services as webhooks
from tests.support.processes import wait_for
from tests.support.webhook_receiver import (
    Receiver,
    run_due_webhook_schedules,
    run_queued_webhook_tasks,
)

pytestmark = pytest.mark.django_db(transaction=True)

ALL_EVENTS = ["batch.completed", "job.succeeded", "job.failed"]


def readme_verifier() -> Callable[..., bool]:
    """The verification snippet exactly as docs/webhooks.md prints it."""
    readme = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    (snippet,) = [b for b in blocks if "def verify_heygem_signature" in b]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    return namespace["verify_heygem_signature"]


def _hook(owner: User, receiver: Receiver, path: str = "/hook") -> Webhook:
    return webhooks.webhook_create(owner=owner, url=receiver.url + path, events=ALL_EVENTS)


def test_it_signs_a_delivery_that_the_readme_recipe_verifies(
    owner: User, receiver: Receiver
) -> None:
    hook = _hook(owner, receiver, "/hooks/heygem?team=7")
    assert hook.secret.startswith("whsec_") and len(hook.secret) > 40
    delivery = webhooks.webhook_ping(webhook=hook)

    assert run_queued_webhook_tasks() == ["succeeded"]  # queued on commit, run as a worker would

    (request,) = receiver.requests
    assert request.path == "/hooks/heygem?team=7"
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "HeyGem-Webhooks/1"
    assert headers["x-heygem-event"] == "ping"
    assert headers["x-heygem-delivery"] == str(delivery.pk)
    verify = readme_verifier()
    signature = headers["x-heygem-signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", signature)
    assert verify(hook.secret, signature, request.body)
    assert not verify(hook.secret + "x", signature, request.body)
    assert not verify(hook.secret, signature, request.body.replace(b"ping", b"pong"))
    timestamp = int(signature.split(",")[0][2:])
    assert not verify(hook.secret, signature, request.body, tolerance=-1 - timestamp)

    import json

    payload = json.loads(request.body)
    assert payload["type"] == "ping" and payload["id"] == delivery.event_id
    assert payload["data"]["webhook_id"] == str(hook.pk)
    assert hook.secret not in request.body.decode()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    # Run again (a duplicate task): nothing is sent twice.
    assert tasks.webhook_deliver(str(delivery.pk)) == "already succeeded"
    assert len(receiver.requests) == 1


def test_it_retries_a_failing_receiver_on_schedule_then_marks_it_failed(
    owner: User, receiver: Receiver, settings
) -> None:
    settings.WEBHOOK_RETRY_DELAYS = [10, 60]  # three attempts in all
    receiver.answers = [500]
    hook = _hook(owner, receiver)
    delivery = webhooks.webhook_ping(webhook=hook)

    # Attempt 1: the receiver answers 500.
    before = timezone.now()
    assert run_queued_webhook_tasks() == ["retrying"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert "answered 500" in delivery.last_error and delivery.last_error.endswith(".")
    (retry,) = Schedule.objects.filter(func="jobs.tasks.webhook_deliver")
    assert retry.schedule_type == Schedule.ONCE
    assert retry.name == webhook_delivery.schedule_name(delivery_id=delivery.pk, attempt=2)
    assert str(delivery.pk) in retry.args
    assert retry.next_run > timezone.now() and (retry.next_run - before).total_seconds() >= 10
    assert delivery.next_attempt_at == retry.next_run

    # The task arriving early (or twice) does nothing.
    assert tasks.webhook_deliver(str(delivery.pk)) == "not due"
    assert len(receiver.requests) == 1

    # Attempt 2, ten seconds later: the receiver is gone (its port is closed).
    receiver.stop()
    assert run_due_webhook_schedules(seconds=10) == ["retrying"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, None)
    assert "refused the connection" in delivery.last_error
    (retry,) = Schedule.objects.filter(func="jobs.tasks.webhook_deliver")  # the first was used up
    assert retry.name == webhook_delivery.schedule_name(delivery_id=delivery.pk, attempt=3)
    assert (retry.next_run - timezone.now()).total_seconds() > 50

    # Attempt 3, a minute later, is the last.
    assert run_due_webhook_schedules(seconds=60) == ["failed"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert "refused the connection" in delivery.last_error
    assert delivery.next_attempt_at is None and delivery.delivered_at is None
    assert not Schedule.objects.filter(func="jobs.tasks.webhook_deliver").exists()
    assert tasks.webhook_deliver(str(delivery.pk)) == "already failed"
    assert len(receiver.requests) == 1


def test_it_sends_a_delivery_once_when_a_twin_task_runs_meanwhile(
    owner: User, receiver: Receiver
) -> None:
    receiver.delay = 1.0  # the first attempt is still waiting for its answer...
    hook = _hook(owner, receiver)
    delivery = webhooks.webhook_ping(webhook=hook)
    outcome: list[str] = []
    first = threading.Thread(target=lambda: outcome.append(tasks.webhook_deliver(str(delivery.pk))))
    first.start()
    wait_for(lambda: bool(receiver.requests), timeout=10, what="the first POST", interval=0.01)
    assert tasks.webhook_deliver(str(delivery.pk)) == "not due"  # ...when its twin arrives
    first.join(timeout=10)
    assert outcome == ["succeeded"] and len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)


def test_two_workers_that_read_a_delivery_together_send_it_once(
    owner: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both tasks find the delivery pending and due before either claims it; the claim's
    condition on the attempt count lets exactly one of them send."""
    hook = _hook(owner, receiver)
    delivery = webhooks.webhook_ping(webhook=hook)
    both_read = threading.Barrier(2, timeout=10)
    real_now = timezone.now
    waited: set[int] = set()

    class Clock:
        @staticmethod
        def now() -> Any:
            # The first clock reading after the due check is the claim's lease: hold each
            # worker there until the other has read the delivery too.
            if threading.get_ident() not in waited:
                waited.add(threading.get_ident())
                both_read.wait()
            return real_now()

    monkeypatch.setattr(webhook_delivery, "timezone", Clock)
    due = real_now()
    outcome: list[str] = []

    def work() -> None:
        try:
            outcome.append(
                webhook_delivery.webhook_delivery_attempt(delivery_id=delivery.pk, now=due)
            )
        finally:
            from django.db import connection

            connection.close()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(outcome) == ["not claimed", "succeeded"]
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)


def test_it_records_a_timeout_and_a_redirect_as_failed_attempts(
    owner: User, receiver: Receiver, settings
) -> None:
    settings.WEBHOOK_TIMEOUT = 0.3
    hook = _hook(owner, receiver)
    receiver.delay = 1.0
    slow = webhooks.webhook_ping(webhook=hook)
    assert tasks.webhook_deliver(str(slow.pk)) == "retrying"
    slow.refresh_from_db()
    assert "did not answer within 0.3 s" in slow.last_error and slow.last_status_code is None

    receiver.delay = 0.0
    receiver.answers = [302]
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    moved = webhooks.webhook_ping(webhook=hook)
    assert tasks.webhook_deliver(str(moved.pk)) == "retrying"
    moved.refresh_from_db()
    assert moved.last_status_code == 302 and "redirects are not followed" in moved.last_error
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"]  # nothing chased the Location


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
        ("http://localhost/hook", "localhost resolves to"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://10.1.2.3/hook", "a private network address"),
        ("https://192.168.0.10/hook", "a private network address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
        ("ftp://example.com/hook", "must start with https:// or http://"),
        ("javascript:alert(1)", "must start with https:// or http://"),
        ("https://user:pass@example.com/hook", "Remove the user name and password"),
        ("https:///nohost", "has no host name"),
        ("http://[not-an-address/", "not a URL we can read"),
    ],
)
@pytest.mark.django_db  # no commit hooks needed: the quicker kind of test database
def test_it_refuses_urls_that_are_not_public_http(owner: User, url: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        webhooks.webhook_create(owner=owner, url=url, events=ALL_EVENTS)
    message = " ".join(caught.value.messages)
    assert says in message and message.endswith(".")
    assert not Webhook.objects.exists()


def test_it_checks_the_address_again_before_each_delivery(
    owner: User, receiver: Receiver, settings
) -> None:
    hook = _hook(owner, receiver)  # allowed when saved...
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False  # ...but not when it is time to send
    delivery = webhooks.webhook_ping(webhook=hook)
    assert tasks.webhook_deliver(str(delivery.pk)) == "retrying"
    delivery.refresh_from_db()
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert receiver.requests == []


def test_it_checks_events_and_the_number_of_webhooks(
    owner: User, receiver: Receiver, settings
) -> None:
    with pytest.raises(ValidationError, match="Pick at least one event"):
        webhooks.webhook_create(owner=owner, url=receiver.url, events=[])
    with pytest.raises(ValidationError, match=r"“batch\.started” is not an event we send"):
        webhooks.webhook_create(owner=owner, url=receiver.url, events=["batch.started"])
    settings.WEBHOOK_MAX_PER_USER = 2
    hook = webhooks.webhook_create(
        owner=owner, url=receiver.url, events=["job.failed", "job.failed", "batch.completed"]
    )
    assert hook.events == ["batch.completed", "job.failed"]
    webhooks.webhook_create(owner=owner, url=receiver.url, events=["job.failed"])
    with pytest.raises(ValidationError, match="at most 2 webhooks"):
        webhooks.webhook_create(owner=owner, url=receiver.url, events=["job.failed"])


def test_a_paused_webhook_gets_no_pending_retries(owner: User, receiver: Receiver) -> None:
    from jobs.webhooks.services import _deliveries_create

    hook = _hook(owner, receiver)
    (delivery,) = _deliveries_create([hook], event="job.failed", data={"job": {}})
    webhooks.webhook_update(webhook=hook, active=False)
    assert tasks.webhook_deliver(str(delivery.pk)) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "paused" in delivery.last_error
    assert receiver.requests == []


def test_pausing_a_webhook_stops_a_pending_test_pings_retries(
    owner: User, receiver: Receiver, settings
) -> None:
    settings.WEBHOOK_RETRY_DELAYS = [10, 60]
    receiver.answers = [500]
    hook = _hook(owner, receiver)
    delivery = webhooks.webhook_ping(webhook=hook)
    assert run_queued_webhook_tasks() == ["retrying"]  # attempt 1 fails; a retry is pending
    webhooks.webhook_update(webhook=hook, active=False)
    assert run_due_webhook_schedules(seconds=10) == ["failed"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "paused" in delivery.last_error
    assert len(receiver.requests) == 1  # the retry was not sent
    # A ping asked for while paused still goes out, once.
    receiver.answers = [204]
    webhooks.webhook_ping(webhook=hook)
    assert run_queued_webhook_tasks() == ["succeeded"]
    assert len(receiver.requests) == 2


def test_rotating_the_secret_signs_later_deliveries_with_the_new_one(
    owner: User, receiver: Receiver
) -> None:
    hook = _hook(owner, receiver)
    old = hook.secret
    webhooks.webhook_update(webhook=hook, rotate_secret=True)
    assert hook.secret != old
    webhooks.webhook_ping(webhook=hook)
    run_queued_webhook_tasks()
    (request,) = receiver.requests
    verify = readme_verifier()
    assert verify(hook.secret, request.headers["x-heygem-signature"], request.body)
    assert not verify(old, request.headers["x-heygem-signature"], request.body)
    assert WebhookDelivery.objects.for_user(owner).count() == 1
