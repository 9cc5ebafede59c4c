"""Quota reservations that match the output: a video reserves what the encoder will write
(then what its template's results measured), a render that no longer fits fails before it
starts, and parallel starts at the quota's edge never end above it."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from jobs.render.worker import runner
from jobs.storage import files, usage
from jobs.storage.cleanup import quota_cleanup_all

pytestmark = pytest.mark.django_db(transaction=True)


def _room(user: User, room: int) -> None:
    user.refresh_from_db()
    User.objects.filter(pk=user.pk).update(
        storage_quota_bytes=user.storage_used_bytes + room, max_concurrent_jobs=50
    )


def test_a_first_render_stays_within_its_reservation_and_then_reserves_what_it_measured(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    first = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    second = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job, queued = first.jobs.get(), second.jobs.get()
    reserved = job.estimated_output_bytes
    assert reserved == queued.estimated_output_bytes
    assert runner.job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    queued.refresh_from_db()
    # The encoder's settings gave an upper bound; the measured result now sets the next one.
    assert 0 < job.output_size <= reserved
    measured = job.output_size / float(job.output_duration or 1)
    assert queued.estimated_output_bytes == int(
        measured * audio_clip.duration * usage.MEASURED_MARGIN
    ) + (usage.CONTAINER_BYTES)
    assert queued.estimated_output_bytes < reserved
    assert runner.job_run(job_id=queued.pk) == JobStatus.SUCCEEDED
    queued.refresh_from_db()
    assert queued.output_size <= queued.estimated_output_bytes


def test_a_video_that_no_longer_fits_fails_before_rendering_with_a_sentence(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    # Room shrank after the start (staff lowered the quota): the render must not happen.
    _room(owner, job.estimated_output_bytes // 2)
    assert runner.job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.error_code == "quota_at_start"
    assert job.error_message.startswith("This video needs about ")
    assert "so it was not rendered" in job.error_message
    assert job.output == "" and not list(files.scratch_dir().glob(f"*{job.pk.hex}*"))
    owner.refresh_from_db()
    assert owner.storage_used_bytes <= owner.storage_quota_bytes
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_parallel_batch_starts_at_the_quota_edge_never_end_above_the_quota(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    """The adversarial run: ten one-video batches started at once with room for about
    four estimated results. Whatever is admitted renders; usage ends within the quota and
    the hourly quota cleanup removes none of the new results."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises every writer, so threads cannot race there "
            "(CI's second leg runs it)"
        )
    estimate = usage.estimate_output_bytes(audio=audio_clip, template=template)
    _room(owner, 4 * estimate + estimate // 2)
    start = threading.Barrier(10)
    outcomes: list[str] = []

    def start_batch() -> None:
        try:
            start.wait()
            services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
            outcomes.append("created")
        except ValidationError as exc:
            assert exc.code == "over_quota", exc.messages
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start_batch) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 4 + ["refused"] * 6
    for job in RenderJob.objects.all():
        assert runner.job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    owner.refresh_from_db()
    assert owner.storage_used_bytes <= owner.storage_quota_bytes
    assert quota_cleanup_all() == 0
    assert RenderJob.objects.filter(status=JobStatus.SUCCEEDED).count() == 4
    assert Batch.objects.count() == 4
