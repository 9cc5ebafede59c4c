"""Staff see users' webhooks with their recent deliveries (not their secret) and can pause
one; deliveries are read-only; nobody adds webhooks in the admin."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs.models import DeliveryStatus, Webhook, WebhookDelivery
from jobs.webhooks import services as webhooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(owner: User, settings) -> Webhook:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    hook = webhooks.webhook_create(
        owner=owner, url="http://127.0.0.1:9/hooks/heygem", events=["job.failed"]
    )
    delivery = webhooks.webhook_ping(webhook=hook)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, attempts=6, last_error="127.0.0.1:9 refused the connection."
    )
    return hook


def test_the_webhook_pages_load_with_recent_deliveries_and_no_secret(
    hook: Webhook, admin_client: Client
) -> None:
    listing = admin_client.get(reverse("admin:jobs_webhook_changelist"), {"q": "owner@"})
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "http://127.0.0.1:9/hooks/heygem" in html and "job.failed" in html

    detail = admin_client.get(reverse("admin:jobs_webhook_change", args=[hook.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert hook.secret not in html
    assert "refused the connection" in html and "ping" in html

    deliveries = admin_client.get(
        reverse("admin:jobs_webhookdelivery_changelist"), {"webhook__id__exact": str(hook.pk)}
    )
    assert deliveries.status_code == 200
    assert "1 webhook delivery" in deliveries.content.decode()
    delivery = hook.deliveries.get()
    page = admin_client.get(reverse("admin:jobs_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200 and 'name="status"' not in page.content.decode()
    assert admin_client.get(reverse("admin:jobs_webhook_add")).status_code == 403


def test_staff_can_pause_a_webhook_but_not_change_its_url(
    hook: Webhook, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("admin:jobs_webhook_change", args=[hook.pk]),
        {"active": "", "url": "http://elsewhere.example/"},
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.active is False
    assert hook.url == "http://127.0.0.1:9/hooks/heygem"


def test_people_who_are_not_staff_get_no_admin(hook: Webhook, other_client: Client) -> None:
    response = other_client.get(reverse("admin:jobs_webhook_change", args=[hook.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
