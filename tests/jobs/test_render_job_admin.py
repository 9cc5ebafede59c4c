"""Staff manage render jobs and quotas in the admin through the services, in human units."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, JobStatus, RenderJob, Template
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_job(owner: User, audio_clip: AudioClip, template: Template) -> RenderJob:
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name="Launch"
    )
    job = batch.jobs.get()
    finish_job(
        job,
        status=JobStatus.FAILED,
        error="The renderer stopped.",
        code="worker_lost",
        params={"attempts": 3},
    )
    return job


def test_the_list_shows_owner_batch_error_and_attempts_and_searches_them(
    admin_client: Client, failed_job: RenderJob
) -> None:
    url = reverse("admin:jobs_renderjob_changelist")
    html = admin_client.get(url).content.decode()
    # The error in the admin's language, worded from its code by the one catalogue.
    for text in ("owner@example.com", "Launch", "The renderer stopped while", "face.mp4"):
        assert text in html
    for term in ("owner@example", "Launch", "renderer stopped", "worker_lost"):
        assert admin_client.get(url, {"q": term}).context["cl"].result_count == 1, term
    assert admin_client.get(url, {"q": "nobody"}).context["cl"].result_count == 0
    assert admin_client.get(url, {"status__exact": "failed"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"attempts": "2+"}).context["cl"].result_count == 0


def test_retry_and_cancel_go_through_the_services(
    admin_client: Client, failed_job: RenderJob
) -> None:
    url = reverse("admin:jobs_renderjob_changelist")
    admin_client.post(url, {"action": "retry", "_selected_action": [str(failed_job.pk)]})
    failed_job.refresh_from_db()
    assert failed_job.status == JobStatus.QUEUED and failed_job.attempts == 0
    admin_client.post(url, {"action": "cancel", "_selected_action": [str(failed_job.pk)]})
    failed_job.refresh_from_db()
    assert failed_job.status == JobStatus.CANCELED
    failed_job.batch.refresh_from_db()
    assert failed_job.batch.finished_at is not None  # the batch finished, as the service does


def test_the_status_cannot_be_typed_by_hand(admin_client: Client, failed_job: RenderJob) -> None:
    page = admin_client.get(reverse("admin:jobs_renderjob_change", args=[failed_job.pk]))
    assert "status" not in page.context["adminform"].form.fields
    admin_client.post(
        reverse("admin:jobs_renderjob_change", args=[failed_job.pk]), {"status": "succeeded"}
    )
    failed_job.refresh_from_db()
    assert failed_job.status == JobStatus.FAILED


def test_quotas_are_edited_in_gb_and_mb(admin_client: Client, owner: User) -> None:
    url = reverse("admin:accounts_user_change", args=[owner.pk])
    form = admin_client.get(url).context["adminform"].form
    assert form["storage_quota_bytes"].value() == "10 GB"
    data = {
        k: v
        for k, v in form.initial.items()
        if v is not None and k not in ("groups", "user_permissions", "password")
    }
    data.update(
        {
            "email": owner.email,
            "storage_quota_bytes": "2.5 GB",
            "max_concurrent_jobs": 20,
            "retention_days": 7,
            "date_joined_0": owner.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": owner.date_joined.strftime("%H:%M:%S"),
            "is_active": "on",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    owner.refresh_from_db()
    assert owner.storage_quota_bytes == 2_500_000_000
    data["storage_quota_bytes"] = "lots"
    errors = admin_client.post(url, data).context["adminform"].form.errors
    assert "10 GB" in str(errors["storage_quota_bytes"])
