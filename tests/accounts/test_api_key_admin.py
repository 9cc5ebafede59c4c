"""Staff see users' API keys (never their hash) and can revoke them; they cannot add one."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiKey, ApiKeyScope, User
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_it_lists_keys_without_their_hash_and_searches_by_owner(
    owner: User, other: User, admin_client: Client
) -> None:
    mine, _raw = api_key_create(user=owner, name="render farm", scope=ApiKeyScope.READ)
    theirs, _ = api_key_create(user=other, name="laptop script")
    page = admin_client.get(reverse("admin:accounts_apikey_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "render farm" in html and "laptop script" in html and mine.prefix in html
    assert mine.key_hash not in html and theirs.key_hash not in html

    found = admin_client.get(reverse("admin:accounts_apikey_changelist"), {"q": "Olivia"})
    assert "render farm" in found.content.decode()
    assert "laptop script" not in found.content.decode()
    found = admin_client.get(reverse("admin:accounts_apikey_changelist"), {"q": "other@"})
    assert "laptop script" in found.content.decode()

    detail = admin_client.get(reverse("admin:accounts_apikey_change", args=[mine.pk]))
    assert detail.status_code == 200
    assert mine.key_hash not in detail.content.decode()
    assert 'name="key_hash"' not in detail.content.decode()
    assert admin_client.get(reverse("admin:accounts_apikey_add")).status_code == 403


def test_the_revoke_action_stops_the_key_at_once(owner: User, admin_client: Client) -> None:
    key, raw = api_key_create(user=owner, name="ci")
    kept, kept_raw = api_key_create(user=owner, name="kept")
    assert _client(raw).get("/api/v1/usage/").status_code == 200

    response = admin_client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke", "_selected_action": [str(key.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 1 API key;" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert _client(raw).get("/api/v1/usage/").status_code == 401
    assert _client(kept_raw).get("/api/v1/usage/").status_code == 200
    assert ApiKey.objects.get(pk=kept.pk).revoked_at is None


def test_people_who_are_not_staff_get_no_admin(owner: User, owner_client: Client) -> None:
    response = owner_client.get(reverse("admin:accounts_apikey_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]
