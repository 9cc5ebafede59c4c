"""The worker's side, run in this process on real media: claim, analyse once, render,
fail one template without stopping its siblings, cancel mid-render, requeue dead jobs."""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, FaceStatus, JobStatus, RenderJob, Template
from jobs.render import lifecycle
from jobs.render.worker import preparation, runner
from rendering import audio as audio_analysis
from rendering.media import probe
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _render_all(batch: Batch) -> list[str]:
    preparation.batch_prepare(batch_id=batch.pk)
    return [
        runner.job_run(job_id=pk)
        for pk in batch.jobs.order_by("position").values_list("pk", flat=True)
    ]


def test_it_renders_each_template_and_a_broken_one_fails_alone(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template], no_face_video: Path
) -> None:
    good = make_template(name="anna.mp4")
    broken = make_template(no_face_video, name="empty room.mp4")
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[broken.pk, good.pk]
    )
    runs_before = audio_analysis.ANALYSIS_RUNS

    assert _render_all(batch) == [JobStatus.FAILED, JobStatus.SUCCEEDED]
    assert runs_before + 1 == audio_analysis.ANALYSIS_RUNS  # once for the whole batch

    failed, done = batch.jobs.order_by("position")
    assert "face" in failed.error_message.lower() and failed.error_message.endswith(".")
    assert failed.output.name == "" and failed.attempts == 1
    broken.refresh_from_db()
    assert broken.face_status == FaceStatus.FAILED

    assert (done.status, done.progress, done.attempts) == (JobStatus.SUCCEEDED, 1.0, 1)
    assert done.output.name == f"{owner.storage_prefix}/batches/{batch.pk.hex}/output_002.mp4"
    path = Path(settings.MEDIA_ROOT) / done.output.name
    info = probe(path)
    assert info.video is not None and info.audio is not None
    assert abs(info.duration - audio_clip.duration) < 0.2
    assert done.output_size == path.stat().st_size
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # as private as the uploads
    upload = Path(settings.MEDIA_ROOT) / good.file.name
    assert stat.S_IMODE(upload.stat().st_mode) == 0o640
    assert "rendered" in done.log
    assert [p.name for p in path.parent.iterdir()] == ["output_002.mp4"]  # no partial files left
    batch.refresh_from_db()
    assert batch.finished_at is not None

    # A second batch with the same audio analyses it zero times.
    again = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[good.pk])
    assert _render_all(again) == [JobStatus.SUCCEEDED]
    assert runs_before + 1 == audio_analysis.ANALYSIS_RUNS


def test_a_job_is_rendered_once_even_if_its_task_arrives_twice(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    assert runner.job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    assert runner.job_run(job_id=job.pk) == "not claimed"
    job.refresh_from_db()
    assert job.attempts == 1


def test_cancel_stops_a_running_render_at_its_next_chunk(
    owner: User, audio_clip: AudioClip, template: Template, settings
) -> None:
    settings.JOB_PROGRESS_INTERVAL = 0.0  # every progress report also checks for cancellation
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(runner.job_run(job_id=job.pk)))
    worker.start()
    wait_for(
        lambda: RenderJob.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, progress__gt=0
        ).exists(),
        timeout=120,
        what="the render to make progress",
        interval=0.02,
    )
    services.batch_cancel(batch=batch)
    worker.join(timeout=120)
    assert outcome == [JobStatus.CANCELED]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.output.name == ""
    folder = Path(settings.MEDIA_ROOT) / owner.storage_prefix / "batches" / batch.pk.hex
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_job_whose_worker_died_is_requeued_then_failed_at_its_attempt_limit(
    owner: User, audio_clip: AudioClip, template: Template, settings
) -> None:
    settings.RENDER_MAX_ATTEMPTS = 2
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    later = timezone.now() + timedelta(seconds=settings.JOB_STALE_AFTER + 1)

    assert lifecycle.job_claim(job_id=job.pk)  # attempt 1, then the worker "dies"
    assert lifecycle.jobs_requeue_stale(now=timezone.now()) == (0, 0)  # heartbeat still fresh
    assert lifecycle.jobs_requeue_stale(now=later) == (1, 0)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)

    assert lifecycle.job_claim(job_id=job.pk)  # attempt 2, dies again
    assert lifecycle.jobs_requeue_stale(now=later + timedelta(seconds=1)) == (0, 1)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "stopped while working on this video 2 times" in job.error_message
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_a_bad_audio_fails_every_job_with_one_clear_message(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    (Path(settings.MEDIA_ROOT) / audio_clip.file.name).write_bytes(
        b"this audio got corrupted on disk"
    )
    assert preparation.batch_prepare(batch_id=batch.pk) == 0
    job = batch.jobs.get()
    assert job.status == JobStatus.FAILED
    # Stored as the code with the library's own reason; the English column is the catalogue's.
    assert job.error_code == "audio_analysis" and job.error_params["code"]
    assert job.error_message.startswith("The audio could not be analysed. Upload the audio again")


def _stored_bytes(user: User) -> int:
    audio = sum(AudioClip.objects.for_user(user).values_list("size_bytes", flat=True))
    templates = sum(Template.objects.for_user(user).values_list("size_bytes", flat=True))
    results = sum(RenderJob.objects.for_user(user).values_list("output_size", flat=True))
    return audio + templates + results


def test_storage_usage_follows_uploads_renders_retries_and_deletes(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    def used() -> int:
        owner.refresh_from_db()
        return owner.storage_used_bytes

    assert used() == audio_clip.size_bytes + template.size_bytes == _stored_bytes(owner)
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    assert _render_all(batch) == [JobStatus.SUCCEEDED]
    job = batch.jobs.get()
    assert job.output_size > 0 and used() == _stored_bytes(owner)

    RenderJob.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED
    )  # retry drops the old result
    services.batch_retry_failed(batch=batch)
    assert used() == audio_clip.size_bytes + template.size_bytes == _stored_bytes(owner)
    assert runner.job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    assert used() == _stored_bytes(owner)

    services.batch_delete(batch=batch)
    services.template_delete(template=template)
    assert used() == audio_clip.size_bytes == _stored_bytes(owner)
