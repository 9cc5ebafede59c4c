from __future__ import annotations

import re

import pytest
from django.test import override_settings

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_it_gives_each_user_an_opaque_storage_folder(owner: User, other: User) -> None:
    assert owner.storage_id != other.storage_id
    assert re.fullmatch(r"[0-9a-f]{24}", owner.storage_id)
    assert "owner" not in owner.storage_prefix
    assert owner.storage_prefix == f"users/{owner.storage_id}"


@override_settings(
    DEFAULT_STORAGE_QUOTA=123_000, DEFAULT_MAX_CONCURRENT_JOBS=4, DEFAULT_RETENTION_DAYS=3
)
def test_it_takes_limit_defaults_from_settings() -> None:
    user = User.objects.create_user(email="fresh@example.com", password="x")
    assert (user.storage_quota_bytes, user.max_concurrent_jobs, user.retention_days) == (
        123_000,
        4,
        3,
    )


def test_staff_can_edit_limits_in_the_admin(admin_client, owner: User) -> None:
    from django.urls import reverse

    url = reverse("admin:accounts_user_change", args=[owner.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {
        k: v
        for k, v in form.initial.items()
        if v is not None and k not in {"groups", "user_permissions"}
    }
    data.update(
        {
            "storage_quota_bytes": 5_000_000_000,
            "max_concurrent_jobs": 9,
            "retention_days": 30,
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        }
    )
    data.pop("last_login", None)
    data.pop("date_joined", None)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    owner.refresh_from_db()
    assert (owner.storage_quota_bytes, owner.max_concurrent_jobs, owner.retention_days) == (
        5_000_000_000,
        9,
        30,
    )
