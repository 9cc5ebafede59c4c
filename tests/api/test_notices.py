"""GET /api/v1/notices/: the caller's notices, unseen first then newest first, read-only;
another user's key sees none of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKeyScope, User
from jobs.models import Notice
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/notices/"


@pytest.fixture
def notices(owner: User) -> dict[str, Notice]:
    now = timezone.now()

    def notice(message: str, days_ago: int, shown: bool) -> Notice:
        return Notice.objects.create(
            owner=owner,
            message=message,
            created_at=now - timedelta(days=days_ago),
            shown_at=now - timedelta(days=days_ago) if shown else None,
        )

    return {
        "old seen": notice("Retention removed 2 batches.", 9, True),
        "new seen": notice("Your storage was over quota.", 3, True),
        "old unseen": notice("We removed 1 older result.", 5, False),
        "new unseen": notice("We removed 2 templates.", 1, False),
    }


def test_it_lists_unseen_first_then_newest_first(
    notices: dict[str, Notice], api: APIClient
) -> None:
    response = api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert [n["message"] for n in body] == [
        notices[k].message for k in ("new unseen", "old unseen", "new seen", "old seen")
    ]
    first = body[0]
    assert set(first) == {"id", "message", "created_at", "shown_at"}
    assert first["id"] == notices["new unseen"].pk and first["shown_at"] is None
    assert body[2]["shown_at"] is not None


def test_listing_is_read_only_and_leaves_them_unseen(
    notices: dict[str, Notice], api: APIClient, owner: User, owner_client: Client
) -> None:
    api.get(URL)
    assert Notice.objects.filter(owner=owner, shown_at__isnull=True).count() == 2
    assert api.post(URL, {}).status_code == 405
    assert api.delete(URL).status_code == 405
    # A read-only key may list them.
    assert key_client(owner, ApiKeyScope.READ).get(URL).status_code == 200
    # The site still shows each unseen notice once, on the next page.
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "We removed 2 templates." in page and "Retention removed" not in page


def test_another_users_key_sees_none(notices: dict[str, Notice], other_api: APIClient) -> None:
    response = other_api.get(URL)
    assert response.status_code == 200
    assert response.json() == []


def test_it_needs_a_key() -> None:
    assert APIClient().get(URL).status_code == 401
