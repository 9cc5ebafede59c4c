from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKeyScope, User
from jobs.models import Webhook
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def private_ok(settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def test_it_refuses_private_targets_by_default(api: APIClient) -> None:
    response = api.post("/api/v1/webhooks/", {"url": URL, "events": ["job.failed"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert Webhook.objects.count() == 0


def test_it_manages_a_webhook_and_shows_its_deliveries(api: APIClient, private_ok: None) -> None:
    created = api.post(
        "/api/v1/webhooks/", {"url": URL, "events": ["batch.completed"]}, format="json"
    )
    assert created.status_code == 201, created.json()
    hook = created.json()
    assert hook["events"] == ["batch.completed"] and hook["active"] and len(hook["secret"]) > 20
    assert [h["id"] for h in api.get("/api/v1/webhooks/").json()["results"]] == [hook["id"]]

    changed = api.patch(
        f"/api/v1/webhooks/{hook['id']}/",
        {"events": ["job.failed", "job.succeeded"], "active": False, "rotate_secret": True},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["active"] is False and changed.json()["secret"] != hook["secret"]
    assert sorted(changed.json()["events"]) == ["job.failed", "job.succeeded"]

    ping = api.post(f"/api/v1/webhooks/{hook['id']}/ping/")
    assert ping.status_code == 202 and ping.json()["event"] == "ping"
    deliveries = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()["results"]
    assert [d["id"] for d in deliveries] == [ping.json()["id"]]
    assert deliveries[0]["status"] == "pending"

    assert api.delete(f"/api/v1/webhooks/{hook['id']}/").status_code == 204
    assert api.get(f"/api/v1/webhooks/{hook['id']}/").status_code == 404


def test_bad_events_are_explained(api: APIClient, private_ok: None) -> None:
    response = api.post(
        "/api/v1/webhooks/", {"url": URL, "events": ["job.exploded"]}, format="json"
    )
    assert response.status_code == 400 and "events" in response.json()["error"]["fields"]
    response = api.post(
        "/api/v1/webhooks/", {"url": "ftp://example.com/x", "events": ["job.failed"]}, format="json"
    )
    assert response.status_code == 400 and "http" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("patch", ""), ("delete", ""), ("get", "deliveries/"), ("post", "ping/")],
)
def test_another_users_key_gets_404(
    method: str, suffix: str, api: APIClient, other_api: APIClient, private_ok: None
) -> None:
    hook = api.post(
        "/api/v1/webhooks/", {"url": URL, "events": ["job.failed"]}, format="json"
    ).json()
    response = getattr(other_api, method)(
        f"/api/v1/webhooks/{hook['id']}/{suffix}", {}, format="json"
    )
    assert response.status_code == 404
    assert Webhook.objects.filter(pk=hook["id"], active=True).exists()
    assert other_api.get("/api/v1/webhooks/").json()["results"] == []


def test_a_read_only_key_cannot_register_webhooks(owner: User, private_ok: None) -> None:
    reader = key_client(owner, ApiKeyScope.READ)
    response = reader.post(
        "/api/v1/webhooks/", {"url": URL, "events": ["job.failed"]}, format="json"
    )
    assert response.status_code == 403
    assert reader.get("/api/v1/webhooks/").status_code == 200
