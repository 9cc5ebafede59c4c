"""The hourly maintenance's housekeeping: webhook deliveries left pending by a worker that
died mid-POST (or whose task was lost) are queued again once, and are then sent once; old
delivery rows and expired Idempotency-Key answers are deleted. The clock is `now=`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from jobs import housekeeping
from jobs.models import DeliveryStatus, IdempotencyRecord, Webhook, WebhookDelivery
from jobs.storage import cleanup
from jobs.webhooks import delivery as webhook_delivery
from jobs.webhooks import services as webhooks
from tests.support.webhook_receiver import Receiver

ALL_EVENTS = ["batch.completed", "job.succeeded", "job.failed"]


def _take_queued() -> list[tuple[str, tuple[Any, ...]]]:
    """Take every task off the broker without running it (as a worker that then dies)."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    taken: list[tuple[str, tuple[Any, ...]]] = []
    while packages := broker.dequeue():
        for ack_id, package in packages:
            task = SignedPackage.loads(package)
            broker.acknowledge(ack_id)
            taken.append((task["func"], tuple(task["args"])))
    return taken


def _hook(owner: User, receiver: Receiver) -> Webhook:
    return webhooks.webhook_create(owner=owner, url=receiver.url + "/hook", events=ALL_EVENTS)


@pytest.mark.django_db(transaction=True)
def test_it_sends_once_a_delivery_whose_worker_died_mid_post(
    owner: User, receiver: Receiver, settings
) -> None:
    settings.WEBHOOK_STUCK_AFTER = 300
    delivery = webhooks.webhook_ping(webhook=_hook(owner, receiver))
    task = (webhook_delivery.DELIVER_TASK, (str(delivery.pk),))
    # A worker takes the task, claims the delivery as webhook_delivery_attempt does (which
    # pushes next_attempt_at out by its lease), and dies before recording anything.
    assert _take_queued() == [task]
    lease = timezone.now() + timedelta(seconds=80)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=1, next_attempt_at=lease)

    # Not yet: the lease is only four minutes gone.
    soon = lease + timedelta(minutes=4)
    assert housekeeping.webhook_deliveries_requeue_stuck(now=soon) == 0
    assert _take_queued() == []

    later = lease + timedelta(minutes=6)
    result = cleanup.maintenance_run(now=later)
    assert result.housekeeping.deliveries_requeued == 1
    assert "1 stuck webhook deliveries queued again" in str(result)
    # Claimed: another maintenance run (or one racing it) does not queue it a second time.
    assert housekeeping.webhook_deliveries_requeue_stuck(now=later) == 0
    assert _take_queued() == [task]

    assert (
        webhook_delivery.webhook_delivery_attempt(delivery_id=delivery.pk, now=later) == "succeeded"
    )
    assert webhook_delivery.webhook_delivery_attempt(delivery_id=delivery.pk, now=later) == (
        "already succeeded"
    )
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)


@pytest.mark.django_db(transaction=True)
def test_it_requeues_only_pending_deliveries_that_nobody_will_send(
    owner: User, receiver: Receiver
) -> None:
    hook = _hook(owner, receiver)
    lost = webhooks.webhook_ping(webhook=hook)  # its task is lost with the broker
    retrying = webhooks.webhook_ping(webhook=hook)
    done = webhooks.webhook_ping(webhook=hook)
    _take_queued()
    now = timezone.now() + timedelta(minutes=10)
    # Waiting for a retry an hour from "now": its ONCE schedule will send it.
    WebhookDelivery.objects.filter(pk=retrying.pk).update(
        attempts=1, next_attempt_at=now + timedelta(hours=1)
    )
    WebhookDelivery.objects.filter(pk=done.pk).update(status=DeliveryStatus.FAILED, attempts=6)

    assert housekeeping.webhook_deliveries_requeue_stuck(now=now) == 1
    assert _take_queued() == [(webhook_delivery.DELIVER_TASK, (str(lost.pk),))]
    assert webhook_delivery.webhook_delivery_attempt(delivery_id=lost.pk, now=now) == "succeeded"
    assert len(receiver.requests) == 1


def _age(model: Any, pk: Any, moment: Any) -> None:
    model.objects.filter(pk=pk).update(created_at=moment)


@pytest.mark.django_db
def test_it_prunes_old_deliveries_and_expired_idempotency_records(
    owner: User, other: User, settings
) -> None:
    settings.WEBHOOK_DELIVERY_KEEP_DAYS = 30
    settings.API_IDEMPOTENCY_HOURS = 24
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    now = timezone.now() + timedelta(days=100)
    hook = webhooks.webhook_create(owner=owner, url="http://127.0.0.1:9/hook", events=ALL_EVENTS)
    old = webhooks.webhook_ping(webhook=hook)
    kept = webhooks.webhook_ping(webhook=hook)
    _age(WebhookDelivery, old.pk, now - timedelta(days=30, minutes=1))
    _age(WebhookDelivery, kept.pk, now - timedelta(days=29, hours=23))
    WebhookDelivery.objects.update(status=DeliveryStatus.SUCCEEDED)

    def record(user: User, key: str, age: timedelta) -> IdempotencyRecord:
        row = IdempotencyRecord.objects.create(
            user=user, key=key, fingerprint="f" * 64, status_code=201, body={}
        )
        _age(IdempotencyRecord, row.pk, now - age)
        return row

    expired = record(owner, "a", timedelta(hours=24, minutes=1))
    fresh = record(owner, "b", timedelta(hours=23))
    expired_other = record(other, "a", timedelta(days=3))

    result = cleanup.maintenance_run(now=now).housekeeping
    assert (result.deliveries_pruned, result.idempotency_pruned) == (1, 2)
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not IdempotencyRecord.objects.filter(pk__in=[expired.pk, expired_other.pk]).exists()
    assert Webhook.objects.filter(pk=hook.pk).exists()
    # Nothing left to prune: a second run deletes nothing.
    again = cleanup.maintenance_run(now=now).housekeeping
    assert (again.deliveries_pruned, again.idempotency_pruned) == (0, 0)


@pytest.mark.django_db
def test_the_storage_cleanup_command_runs_it(owner: User) -> None:
    from io import StringIO

    from django.core.management import call_command

    record = IdempotencyRecord.objects.create(
        user=owner, key="k", fingerprint="f" * 64, status_code=201, body={}
    )
    _age(IdempotencyRecord, record.pk, timezone.now() - timedelta(days=2))
    out = StringIO()
    call_command("storage_cleanup", "--housekeeping", stdout=out)
    assert out.getvalue() == (
        "housekeeping: 0 stuck webhook deliveries queued again, 0 old deliveries and "
        "1 expired idempotency records deleted\n"
    )
    assert not IdempotencyRecord.objects.exists()
