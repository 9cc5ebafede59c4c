from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from jobs.render import lifecycle
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]) -> Batch:
    a, b = (
        make_template(name="a.mp4"),
        make_template(
            name="b.mp4", path=Path(__file__).parents[1] / "fixtures" / "face_with_audio.mp4"
        ),
    )
    return services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk], name="Actions"
    )


def test_cancel_stops_queued_jobs_at_once(batch: Batch) -> None:
    assert services.batch_cancel(batch=batch) == 2
    assert set(batch.jobs.values_list("status", flat=True)) == {JobStatus.CANCELED}
    batch.refresh_from_db()
    assert batch.finished_at is not None and batch.canceled_at is not None


def test_cancel_marks_a_running_job_so_its_worker_stops(batch: Batch) -> None:
    job = batch.jobs.first()
    assert lifecycle.job_claim(job_id=job.pk)
    services.batch_cancel(batch=batch)
    # The worker's next heartbeat learns the job is no longer running (and stops rendering).
    assert lifecycle.job_heartbeat(job_id=job.pk, progress=0.5) is False


def test_retry_requeues_failed_and_canceled_jobs_with_fresh_attempts(
    batch: Batch, django_capture_on_commit_callbacks
) -> None:
    first, second = batch.jobs.order_by("position")
    finish_job(first, status=JobStatus.FAILED)
    RenderJob.objects.filter(pk=first.pk).update(attempts=3, error_message="boom")
    finish_job(second, status=JobStatus.SUCCEEDED, content=b"video")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.batch_retry_failed(batch=batch) == 1
    first.refresh_from_db()
    assert (first.status, first.attempts, first.error_message) == (JobStatus.QUEUED, 0, "")
    second.refresh_from_db()
    assert second.status == JobStatus.SUCCEEDED  # a finished result is never redone
    assert len(callbacks) >= 1


def test_delete_batch_removes_rows_and_files(
    batch: Batch, owner_client: Client, django_capture_on_commit_callbacks
) -> None:
    first = batch.jobs.first()
    finish_job(first, status=JobStatus.SUCCEEDED, content=b"video bytes")
    folder = Path(settings.MEDIA_ROOT) / batch.owner.storage_prefix / "batches" / batch.pk.hex
    assert folder.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("batch_delete", args=[batch.pk]))
    assert response.status_code == 302
    assert not Batch.objects.filter(pk=batch.pk).exists() and not RenderJob.objects.exists()
    assert not folder.exists()


def test_delete_one_result_keeps_the_rest(
    batch: Batch, owner_client: Client, django_capture_on_commit_callbacks
) -> None:
    first, second = batch.jobs.order_by("position")
    finish_job(first, status=JobStatus.SUCCEEDED, content=b"one")
    finish_job(second, status=JobStatus.SUCCEEDED, content=b"two")
    path = Path(settings.MEDIA_ROOT) / first.output.name
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("job_delete", args=[first.pk]))
    assert not path.exists()
    assert list(batch.jobs.values_list("pk", flat=True)) == [second.pk]
    assert (Path(settings.MEDIA_ROOT) / second.output.name).read_bytes() == b"two"


def test_deleting_a_template_keeps_finished_results(
    batch: Batch, owner_client: Client, django_capture_on_commit_callbacks
) -> None:
    first = batch.jobs.order_by("position").first()
    finish_job(first, status=JobStatus.SUCCEEDED, content=b"result")
    services.batch_cancel(batch=batch)  # the other job: nothing uses the template any more
    template = first.template
    # The row goes after the mark commits (jobs.storage.deletion), so run the on-commit steps.
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("template_delete", args=[template.pk]))
    assert not Template.objects.filter(pk=template.pk).exists()
    first.refresh_from_db()
    assert first.template is None and first.template_name == "a.mp4"
    video = owner_client.get(reverse("job_video", args=[first.pk]))
    assert video.status_code == 200 and b"".join(video.streaming_content) == b"result"


def test_a_template_in_use_by_a_running_batch_cannot_be_deleted(batch: Batch) -> None:
    template = batch.jobs.first().template
    with pytest.raises(ValidationError, match="still rendering"):
        services.template_delete(template=template)


def test_result_video_serves_byte_ranges_for_seeking(batch: Batch, owner_client: Client) -> None:
    job = batch.jobs.first()
    finish_job(job, status=JobStatus.SUCCEEDED, content=bytes(range(256)) * 4)
    url = reverse("job_video", args=[job.pk])
    part = owner_client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 10-19/1024"
    assert b"".join(part.streaming_content) == bytes(range(10, 20))
    head = owner_client.head(url)
    assert head.status_code == 200 and head["Content-Length"] == "1024"
    download = owner_client.get(reverse("job_download", args=[job.pk]))
    assert download["Content-Disposition"].startswith("attachment;")
    assert "Actions_001_a.mp4" in download["Content-Disposition"]
    assert owner_client.get(url, HTTP_RANGE="bytes=5000-").status_code == 416
