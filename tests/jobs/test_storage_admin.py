from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from heygem_site.formats import size_label
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def batches(owner: User, audio_clip: AudioClip, template: Template) -> dict[str, Batch]:
    User.objects.filter(pk=owner.pk).update(max_concurrent_jobs=100)
    made = {
        name: services.batch_create(
            owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name=name
        )
        for name in ("Spring promo", "Winter promo", "Broken")
    }
    finish_job(made["Spring promo"].jobs.get(), status=JobStatus.SUCCEEDED, content=b"ok")
    finish_job(made["Broken"].jobs.get(), status=JobStatus.FAILED)
    return made


def _names(response) -> set[str]:
    return {b.name for b in response.context["cl"].result_list}


def test_the_batch_list_shows_the_queue_and_filters_by_status(
    admin_client: Client, batches: dict[str, Batch]
) -> None:
    url = reverse("admin:jobs_batch_changelist")
    page = admin_client.get(url)
    assert "Queued videos: <strong>1</strong> · rendering now: <strong>0</strong>" in (
        page.content.decode()
    )
    assert _names(admin_client.get(url, {"status": "done"})) == {"Spring promo"}
    assert _names(admin_client.get(url, {"status": "queued"})) == {"Winter promo"}
    assert _names(admin_client.get(url, {"status": "done with failures"})) == {"Broken"}
    assert _names(admin_client.get(url, {"q": "owner@example.com promo"})) == {
        "Spring promo",
        "Winter promo",
    }


def test_admin_actions_use_the_same_services(
    admin_client: Client, owner: User, batches: dict[str, Batch], django_capture_on_commit_callbacks
) -> None:
    url = reverse("admin:jobs_batch_changelist")

    def act(action: str, *names: str) -> None:
        ids = [str(batches[n].pk) for n in names]
        response = admin_client.post(url, {"action": action, "_selected_action": ids})
        assert response.status_code == 302

    act("retry_failed", "Broken")
    assert batches["Broken"].jobs.get().status == JobStatus.QUEUED
    act("cancel", "Winter promo")
    assert batches["Winter promo"].jobs.get().status == JobStatus.CANCELED
    result = Path(settings.MEDIA_ROOT) / batches["Spring promo"].jobs.get().output.name
    with django_capture_on_commit_callbacks(execute=True):
        act("delete_with_files", "Spring promo")
    assert not result.exists() and not Batch.all_objects.filter(name="Spring promo").exists()
    owner.refresh_from_db()
    assert owner.storage_used_bytes == sum(
        AudioClip.objects.values_list("size_bytes", flat=True)
    ) + sum(Template.objects.values_list("size_bytes", flat=True)) + sum(
        RenderJob.objects.values_list("output_size", flat=True)
    )


def test_the_user_list_shows_usage_and_recomputes_it(
    admin_client: Client, owner: User, batches: dict[str, Batch]
) -> None:
    User.objects.filter(pk=owner.pk).update(storage_used_bytes=1)  # drifted
    url = reverse("admin:accounts_user_changelist")
    page = admin_client.get(url).content.decode()
    # Decimal units, as the pages show them: the default 10 GB quota reads 10 GB.
    assert "1\xa0B / 10\xa0GB (&lt; 0.1 %)" in page
    admin_client.post(url, {"action": "recompute_usage", "_selected_action": [owner.pk]})
    owner.refresh_from_db()
    assert owner.storage_used_bytes > 1
    assert f"{size_label(owner.storage_used_bytes)} / 10\xa0GB" in (
        admin_client.get(url).content.decode()
    )


def test_deleting_a_user_in_the_admin_removes_their_files(
    admin_client: Client, owner: User, batches: dict[str, Batch], django_capture_on_commit_callbacks
) -> None:
    url = reverse("admin:accounts_user_delete", args=[owner.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not (Path(settings.MEDIA_ROOT) / owner.storage_prefix).exists()
