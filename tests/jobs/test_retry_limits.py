"""Retrying failed videos respects the same limits as starting them: the concurrent-jobs
limit and the storage quota (with reservations), checked under the owner's row lock.
Through the service, the pages, the API and the admin action."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from tests.api.conftest import key_client
from tests.support.media import SPEECH, uploaded

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def failed_batch(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> Batch:
    """A batch of two videos that both failed (so nothing of the owner is active)."""
    a = make_template(name="a.mp4")
    b = make_template(name="b.mp4", path=FIXTURES / "face_with_audio.mp4")
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk], name="Failed twice"
    )
    batch.jobs.update(
        status=JobStatus.FAILED, error_message="It broke.", finished_at=timezone.now()
    )
    return batch


def _limit_jobs(user: User, n: int) -> None:
    User.objects.filter(pk=user.pk).update(max_concurrent_jobs=n)


def _room(user: User, room: int) -> None:
    user.refresh_from_db()
    User.objects.filter(pk=user.pk).update(storage_quota_bytes=user.storage_used_bytes + room)


def _statuses(batch: Batch) -> list[str]:
    return list(batch.jobs.order_by("position").values_list("status", flat=True))


def test_it_refuses_a_batch_retry_over_the_concurrent_jobs_limit(failed_batch: Batch) -> None:
    _limit_jobs(failed_batch.owner, 1)
    with pytest.raises(ValidationError) as caught:
        services.batch_retry_failed(batch=failed_batch)
    assert caught.value.messages == [
        "You have 0 videos queued or rendering and your limit is 1 at once; retrying this "
        "batch adds 2. Wait for some to finish, then retry."
    ]
    assert _statuses(failed_batch) == ["failed", "failed"]
    _limit_jobs(failed_batch.owner, 2)
    assert services.batch_retry_failed(batch=failed_batch) == 2
    assert _statuses(failed_batch) == ["queued", "queued"]


def test_it_counts_other_active_videos_against_a_single_retry(
    failed_batch: Batch, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    _limit_jobs(owner, 1)
    job = failed_batch.jobs.order_by("position").first()
    assert job is not None
    with pytest.raises(ValidationError, match="You have 1 videos queued or rendering"):
        services.job_retry(job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_it_refuses_a_retry_whose_results_would_not_fit(failed_batch: Batch) -> None:
    estimates = sum(failed_batch.jobs.values_list("estimated_output_bytes", flat=True))
    assert estimates > 0
    _room(failed_batch.owner, estimates - 1)
    with pytest.raises(ValidationError) as caught:
        services.batch_retry_failed(batch=failed_batch)
    message = caught.value.messages[0]
    assert message.startswith("You are using ") and "retrying this batch needs about" in message
    assert _statuses(failed_batch) == ["failed", "failed"]
    # One video fits where two did not.
    job = failed_batch.jobs.order_by("position").first()
    assert job is not None and job.estimated_output_bytes < estimates - 1
    assert services.job_retry(job=job) is True


def test_it_counts_the_space_a_retry_frees(failed_batch: Batch, owner: User) -> None:
    # A canceled job that kept an old result frees it on retry, so that space counts.
    job = failed_batch.jobs.order_by("position").first()
    assert job is not None
    RenderJob.objects.filter(pk=job.pk).update(
        status=JobStatus.CANCELED, output_size=job.estimated_output_bytes
    )
    User.objects.filter(pk=owner.pk).update(
        storage_used_bytes=owner.storage_used_bytes + job.estimated_output_bytes
    )
    _room(owner, 0)
    assert services.job_retry(job=job) is True
    owner.refresh_from_db()
    assert owner.storage_used_bytes == owner.storage_quota_bytes - job.estimated_output_bytes


def test_the_pages_show_the_refusal_as_a_message(failed_batch: Batch, owner_client: Client) -> None:
    _limit_jobs(failed_batch.owner, 1)
    response = owner_client.post(reverse("batch_retry", args=[failed_batch.pk]), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "your limit is 1 at once; retrying this batch adds 2" in page
    job = failed_batch.jobs.order_by("position").first()
    assert job is not None
    _limit_jobs(failed_batch.owner, 0)
    response = owner_client.post(reverse("job_retry", args=[job.pk]), follow=True)
    assert response.status_code == 200
    assert "retrying this video adds 1" in response.content.decode()
    assert _statuses(failed_batch) == ["failed", "failed"]


def test_the_pages_answer_404_to_another_user(failed_batch: Batch, other_client: Client) -> None:
    job = failed_batch.jobs.first()
    assert job is not None
    assert other_client.post(reverse("batch_retry", args=[failed_batch.pk])).status_code == 404
    assert other_client.post(reverse("job_retry", args=[job.pk])).status_code == 404


def test_the_api_answers_400_with_the_sentence(failed_batch: Batch, owner: User) -> None:
    _room(owner, 10)
    response = key_client(owner).post(f"/api/v1/batches/{failed_batch.pk}/retry/")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "retrying this batch needs about" in error["message"]
    assert _statuses(failed_batch) == ["failed", "failed"]


def test_the_admin_action_reports_each_refusal_and_retries_the_rest(
    failed_batch: Batch,
    owner: User,
    other: User,
    audio_clip: AudioClip,
    admin_client: Client,
    make_template: Callable[..., Template],
) -> None:
    clip = services.audio_upload(owner=other, uploaded=uploaded(SPEECH))
    theirs = make_template(name="c.mp4", user=other)
    ok = services.batch_create(owner=other, audio_id=clip.pk, template_ids=[theirs.pk], name="OK")
    ok.jobs.update(status=JobStatus.CANCELED, finished_at=timezone.now())
    _limit_jobs(owner, 1)

    response = admin_client.post(
        reverse("admin:jobs_batch_changelist"),
        {"action": "retry_failed", "_selected_action": [str(failed_batch.pk), str(ok.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Failed twice (owner@example.com): You have 0 videos queued" in page
    assert "1 video is back in the queue." in page
    assert _statuses(failed_batch) == ["failed", "failed"]
    assert _statuses(ok) == ["queued"]
