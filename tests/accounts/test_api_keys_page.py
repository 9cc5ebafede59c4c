from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiKey, User
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db


def test_it_shows_a_new_key_once_and_then_only_its_prefix(
    owner_client: Client, owner: User
) -> None:
    page = owner_client.post("/accounts/api-keys/", {"name": "nightly", "scope": "read"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    raw = page.context["new_key"]
    assert raw.startswith("hgk_") and raw in page.content.decode()
    key = ApiKey.objects.for_user(owner).get()
    assert key.name == "nightly" and key.scope == "read"
    again = owner_client.get("/accounts/api-keys/").content.decode()
    assert raw not in again and key.prefix in again and "Read only" in again


def test_a_nameless_key_is_refused_with_a_sentence(owner_client: Client) -> None:
    page = owner_client.post("/accounts/api-keys/", {"name": "  ", "scope": "write"})
    assert page.status_code == 400 and "Give the key a name" in page.content.decode()
    assert ApiKey.objects.count() == 0


def test_it_revokes_a_key(owner_client: Client, owner: User) -> None:
    key, _raw = api_key_create(user=owner, name="old")
    response = owner_client.post(f"/accounts/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "Revoked" in owner_client.get("/accounts/api-keys/").content.decode()


def test_another_user_cannot_revoke_it(other_client: Client, owner: User) -> None:
    key, _raw = api_key_create(user=owner, name="mine")
    assert other_client.post(f"/accounts/api-keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert "mine" not in other_client.get("/accounts/api-keys/").content.decode()


def test_the_page_needs_a_login() -> None:
    assert Client().get("/accounts/api-keys/").status_code == 302
