"""The account's webhooks page: add, see the secret, test, pause, new secret, delete, recent
deliveries; refusals shown as sentences; another user gets 404 on every id."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs.models import Webhook, WebhookDelivery
from jobs.webhooks import services as webhooks

pytestmark = pytest.mark.django_db

PAGE = "/accounts/webhooks/"
TARGET = "http://127.0.0.1:9/hooks/heygem"  # nothing listens there; these tests send nothing


@pytest.fixture
def hook(owner: User, settings) -> Webhook:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    return webhooks.webhook_create(owner=owner, url=TARGET, events=["job.failed"])


def test_it_links_the_page_from_the_account_page(owner_client: Client) -> None:
    assert reverse("webhooks") == PAGE
    assert f'href="{PAGE}"' in owner_client.get(reverse("accounts:account")).content.decode()
    assert "No webhooks yet." in owner_client.get(PAGE).content.decode()


def test_it_needs_a_signed_in_user(client: Client, hook: Webhook) -> None:
    assert client.get(PAGE).status_code == 302
    assert client.post(f"{PAGE}{hook.pk}/delete/").status_code == 302
    assert Webhook.objects.filter(pk=hook.pk).exists()


def test_it_adds_a_webhook_and_shows_its_secret(
    owner: User, owner_client: Client, settings
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    response = owner_client.post(
        PAGE, {"url": TARGET, "events": ["job.succeeded", "batch.completed"]}, follow=True
    )
    assert response.status_code == 200
    (hook,) = Webhook.objects.for_user(owner)
    assert hook.events == ["batch.completed", "job.succeeded"] and hook.active
    page = response.content.decode()
    assert TARGET in page and hook.secret in page and "Webhook added." in page


def test_it_shows_why_a_url_is_refused(owner: User, owner_client: Client) -> None:
    response = owner_client.post(PAGE, {"url": "http://10.0.0.7/hook", "events": ["job.failed"]})
    assert response.status_code == 400
    assert "10.0.0.7 is a private network address." in response.content.decode()
    response = owner_client.post(PAGE, {"url": "https://example.com/hook"})
    assert "Pick at least one event to receive." in response.content.decode()
    assert not Webhook.objects.exists()


def test_it_sends_a_test_event_and_lists_recent_deliveries(
    owner_client: Client, hook: Webhook
) -> None:
    response = owner_client.post(f"{PAGE}{hook.pk}/ping/", follow=True)
    (delivery,) = WebhookDelivery.objects.filter(webhook=hook)
    assert (delivery.event, delivery.status, delivery.attempts) == ("ping", "pending", 0)
    page = response.content.decode()
    assert "Test event queued." in page and 'data-testid="delivery"' in page
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=6, last_status_code=503, last_error="The receiver answered 503."
    )
    page = owner_client.get(PAGE).content.decode()
    assert "HTTP 503" in page and "The receiver answered 503." in page and "Failed" in page


def test_it_pauses_resumes_rotates_and_deletes(owner_client: Client, hook: Webhook) -> None:
    owner_client.post(f"{PAGE}{hook.pk}/toggle/")
    hook.refresh_from_db()
    assert not hook.active
    owner_client.post(f"{PAGE}{hook.pk}/toggle/")
    hook.refresh_from_db()
    assert hook.active
    old = hook.secret
    owner_client.post(f"{PAGE}{hook.pk}/secret/")
    hook.refresh_from_db()
    assert hook.secret != old
    webhooks.webhook_ping(webhook=hook)
    assert owner_client.post(f"{PAGE}{hook.pk}/delete/").status_code == 302
    assert not Webhook.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("action", ["ping", "toggle", "secret", "delete"])
def test_another_user_gets_404_on_every_webhook_id(
    other_client: Client, hook: Webhook, action: str
) -> None:
    assert other_client.post(f"{PAGE}{hook.pk}/{action}/").status_code == 404
    fresh = Webhook.objects.get(pk=hook.pk)
    assert (fresh.active, fresh.secret) == (hook.active, hook.secret)
    assert not WebhookDelivery.objects.exists()
    page = other_client.get(PAGE).content.decode()
    assert hook.secret not in page and TARGET not in page


def test_actions_need_post(owner_client: Client, hook: Webhook) -> None:
    for action in ("ping", "toggle", "secret", "delete"):
        assert owner_client.get(f"{PAGE}{hook.pk}/{action}/").status_code == 405


def test_it_explains_signatures_in_the_app_not_in_the_readme(owner_client: Client) -> None:
    html = owner_client.get(reverse("webhooks")).content.decode()
    assert 'data-testid="signature-help"' in html
    assert "HMAC-SHA256" in html and "def verify_heygem_signature" in html
    assert "README" not in html
    zh = owner_client.get(reverse("webhooks"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "如何校验签名" in zh
