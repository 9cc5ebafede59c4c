from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, ApiKeyScope, User
from accounts.services import api_key_create, api_key_hash, api_key_revoke
from jobs.models import Batch
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db


def _bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_it_answers_401_with_the_error_body_without_a_key() -> None:
    response = APIClient().get("/api/v1/batches/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_made_up_key() -> None:
    response = _bearer("hgk_not-a-real-key").get("/api/v1/batches/")
    assert response.status_code == 401
    assert "not valid" in response.json()["error"]["message"]


def test_it_refuses_a_malformed_header(owner: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer a b")
    response = client.get("/api/v1/batches/")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]["message"]


def test_it_refuses_a_revoked_key(owner: User) -> None:
    key, raw = api_key_create(user=owner, name="ci")
    assert _bearer(raw).get("/api/v1/batches/").status_code == 200
    api_key_revoke(key=key)
    response = _bearer(raw).get("/api/v1/batches/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_it_refuses_the_key_of_a_deactivated_user(owner: User) -> None:
    _key, raw = api_key_create(user=owner, name="ci")
    owner.is_active = False
    owner.save()
    assert _bearer(raw).get("/api/v1/batches/").status_code == 401


def test_it_stores_only_a_hash_of_the_key(owner: User) -> None:
    key, raw = api_key_create(user=owner, name="ci")
    key.refresh_from_db()
    assert raw.startswith("hgk_") and len(raw) > 40
    assert key.key_hash == api_key_hash(raw) and raw not in (key.key_hash, key.prefix)
    assert raw.startswith(key.prefix)


def test_it_records_when_a_key_was_last_used(owner: User) -> None:
    key, raw = api_key_create(user=owner, name="ci")
    assert key.last_used_at is None
    before = timezone.now()
    _bearer(raw).get("/api/v1/engines/")
    key.refresh_from_db()
    assert key.last_used_at is not None and before <= key.last_used_at <= timezone.now()
    # Used again later: the time moves (at most once a minute, to spare the database).
    long_ago = timezone.now() - timedelta(hours=2)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=long_ago)
    before = timezone.now()
    _bearer(raw).get("/api/v1/engines/")
    key.refresh_from_db()
    assert before <= key.last_used_at <= timezone.now()
    recent = key.last_used_at
    _bearer(raw).get("/api/v1/engines/")
    key.refresh_from_db()
    assert key.last_used_at == recent  # within the minute: not written again


def test_it_lets_a_read_only_key_read_but_not_write(owner: User, batch: Batch) -> None:
    reader = key_client(owner, ApiKeyScope.READ)
    assert reader.get(f"/api/v1/batches/{batch.pk}/").status_code == 200
    for method, url in [
        ("post", f"/api/v1/batches/{batch.pk}/cancel/"),
        ("post", f"/api/v1/batches/{batch.pk}/retry/"),
        ("delete", f"/api/v1/batches/{batch.pk}/"),
        ("post", "/api/v1/batches/"),
        ("post", "/api/v1/audio/"),
        ("post", "/api/v1/templates/"),
    ]:
        response = getattr(reader, method)(url)
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "permission_denied"
        assert "read-only" in response.json()["error"]["message"]
    assert Batch.objects.filter(pk=batch.pk).exists()
    assert batch.jobs.filter(status="queued").count() == 2


def test_it_accepts_the_sites_session_with_csrf(owner: User, batch: Batch) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/api/v1/batches/").json()["results"][0]["id"] == str(batch.pk)
    # Without the CSRF token a session cannot write: the API is not a CSRF hole.
    assert client.post(f"/api/v1/batches/{batch.pk}/cancel/").status_code == 403
    assert batch.jobs.filter(status="queued").count() == 2


def test_it_limits_how_many_live_keys_a_user_holds(owner: User) -> None:
    from accounts.services import MAX_API_KEYS

    for i in range(MAX_API_KEYS):
        api_key_create(user=owner, name=f"k{i}")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Revoke one"):
        api_key_create(user=owner, name="one too many")
    assert ApiKey.objects.for_user(owner).count() == MAX_API_KEYS
