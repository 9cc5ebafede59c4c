from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import selectors, services
from jobs.models import AudioClip, JobStatus, Template
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db


def test_it_shows_usage_by_kind_limits_and_retention(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=bytes(3000))
    usage = selectors.usage_for_user(owner)
    assert (usage.audio_bytes, usage.template_bytes, usage.result_bytes) == (
        audio_clip.size_bytes,
        template.size_bytes,
        3000,
    )
    assert usage.used_bytes == usage.audio_bytes + usage.template_bytes + usage.result_bytes
    assert (usage.active_jobs, usage.retention_days, usage.max_concurrent_jobs) == (0, 7, 20)
    page = owner_client.get(reverse("accounts:account"))
    html = page.content.decode()
    assert page.context["usage"] == usage
    # Decimal units, as storage vendors count (heygem_site.formats): 3,000 bytes are 3 KB.
    assert 'data-testid="usage-results">3\xa0KB<' in html
    assert 'data-testid="retention">7 days<' in html
    assert "Delete all my data" in html


def test_it_counts_only_the_users_own_files(
    owner: User, other: User, other_client: Client, audio_clip: AudioClip
) -> None:
    usage = other_client.get(reverse("accounts:account")).context["usage"]
    assert usage.used_bytes == usage.audio_bytes == 0
