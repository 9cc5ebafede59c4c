"""Every operation of the API, read off its URL patterns: no key and a revoked key get 401,
a read-only key gets 403 on every write and nothing changes, another user's key gets 404 on
every id (tests/api/test_isolation.py covers the rows left untouched)."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern
from rest_framework.test import APIClient

from accounts.models import ApiKeyScope, User
from accounts.services import api_key_create, api_key_revoke
from jobs.api import urls as api_urls
from jobs.models import AudioClip, Batch, RenderJob, Template, Webhook
from tests.api.conftest import key_client
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db

DOC_VIEWS = {"schema", "docs", "redoc"}
WRITES = ("post", "put", "patch", "delete")


def _operations() -> list[tuple[str, str]]:
    found = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in DOC_VIEWS:
            continue
        path = "/api/v1/" + re.sub(r"<\w+:(\w+)>", r"{\1}", str(pattern.pattern))
        view = pattern.callback.cls  # type: ignore[attr-defined]
        found += [(m, path) for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
    return found


OPERATIONS = _operations()


@pytest.fixture
def ids(light_batch: Batch, owner: User, settings) -> dict[str, str]:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    from jobs.webhooks.services import webhook_create

    job = light_batch.jobs.get()
    finish_job(job, status="succeeded", content=b"bytes")
    hook = webhook_create(owner=owner, url="http://127.0.0.1:9/h", events=["job.failed"])
    return {
        "audio_id": str(light_batch.audio_id),
        "template_id": str(job.template_id),
        "batch_id": str(light_batch.pk),
        "job_id": str(job.pk),
        "webhook_id": str(hook.pk),
        "index": "0",
    }


def _snapshot(owner: User) -> tuple:
    return (
        AudioClip.objects.for_user(owner).count(),
        Template.objects.for_user(owner).count(),
        list(Template.objects.for_user(owner).values_list("face_choice", flat=True)),
        Batch.objects.for_user(owner).count(),
        sorted(RenderJob.objects.for_user(owner).values_list("status", flat=True)),
        list(Webhook.objects.for_user(owner).values_list("active", "secret")),
    )


def test_the_list_covers_the_api() -> None:
    """The operations read off the URL patterns are exactly those the published OpenAPI
    schema lists (drf-spectacular walks the URL conf its own way): none is left untested."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    published = {(m, path) for path, item in schema["paths"].items() for m in item}
    assert set(OPERATIONS) == published
    assert len(OPERATIONS) == len(set(OPERATIONS))


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_key_gets_401(method: str, path: str, ids: dict[str, str], owner: User) -> None:
    before = _snapshot(owner)
    response = getattr(APIClient(), method)(path.format(**ids), {}, format="json")
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "not_authenticated"
    assert _snapshot(owner) == before


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_a_revoked_key_gets_401(method: str, path: str, ids: dict[str, str], owner: User) -> None:
    key, raw = api_key_create(user=owner, name="old")
    api_key_revoke(key=key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = _snapshot(owner)
    response = getattr(client, method)(path.format(**ids), {}, format="json")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert _snapshot(owner) == before


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if op[0] in WRITES])
def test_a_read_only_key_cannot_write(
    method: str, path: str, ids: dict[str, str], owner: User
) -> None:
    reader = key_client(owner, ApiKeyScope.READ)
    before = _snapshot(owner)
    response = getattr(reader, method)(path.format(**ids), {}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]
    assert _snapshot(owner) == before


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if "{" in op[1]])
def test_another_users_key_gets_404_on_every_id(
    method: str, path: str, ids: dict[str, str], owner: User, other_api: APIClient
) -> None:
    before = _snapshot(owner)
    response = getattr(other_api, method)(path.format(**ids), {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _snapshot(owner) == before
