"""Times on the user's clock: the browser's zone (the ``tz`` cookie) is remembered on the
account and applied to pages, default batch names, ZIP names and the admin."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.export import export_archive
from jobs.models import AudioClip, Template
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _names_now(pattern: str) -> set[str]:
    """The name for this minute and the next (a test may straddle a minute)."""
    now = datetime.now(SHANGHAI)
    return {f"{t:{pattern}}" for t in (now, now + timedelta(minutes=1))}


def test_the_browser_zone_is_remembered_and_names_the_default_batch(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    assert owner.time_zone == ""
    owner_client.cookies["tz"] = "Asia%2FShanghai"  # as static/js/common.js writes it
    page = owner_client.get(reverse("batch_new")).content.decode()
    owner.refresh_from_db()
    assert owner.time_zone == "Asia/Shanghai"
    assert any(f'value="{name}"' in page for name in _names_now("batch_%Y%m%d_%H%M"))

    # Without a browser (an API key), the remembered zone still names the batch.
    response = key_client(owner).post(
        "/api/v1/batches/",
        {"audio": str(audio_clip.pk), "templates": [str(template.pk)]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] in _names_now("batch_%Y%m%d_%H%M")

    # The multi-batch ZIP's name, on the same clock.
    second = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    first = owner.batches.exclude(pk=second.pk).get()
    archive = export_archive(batches=[first, second])
    assert archive.filename in _names_now("heygem_2_batches_%Y%m%d_%H%M.zip")

    # History's times: the exact time under the relative one is Shanghai's.
    created = timezone.localtime(second.created_at, SHANGHAI).strftime("%Y-%m-%d %H:%M")
    history = owner_client.get(reverse("history")).content.decode()
    assert f'title="{created}"' in history


def test_a_zone_the_server_does_not_know_is_ignored(owner: User, owner_client: Client) -> None:
    owner_client.cookies["tz"] = "Mars%2FOlympus"
    assert owner_client.get(reverse("batch_new")).status_code == 200
    owner.refresh_from_db()
    assert owner.time_zone == ""


def test_the_admin_says_which_zone_its_times_are_in(admin_client: Client) -> None:
    admin_client.cookies["tz"] = "Asia%2FShanghai"
    page = admin_client.get(reverse("admin:jobs_batch_changelist")).content.decode()
    assert "Times in Asia/Shanghai (UTC+0800)" in page
