"""The one lease machine (jobs.render.leases) for render jobs and batch preparations: a watchdog
acts only on what it read (a job that heartbeats or finishes between its read and its
update is left alone; two watchdogs at once requeue once), and a preparation that died is
sent again, never its renders without the words."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from jobs import services, tasks
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from jobs.render import job_log, leases, lifecycle
from jobs.render.worker import preparation, runner

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        "jobs.render.queue.async_task", lambda func, *args, **kwargs: calls.append((func, args))
    )
    return calls


@pytest.fixture
def running_jobs(
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    sent: list[tuple[str, tuple[Any, ...]]],
) -> list[RenderJob]:
    """Three claimed jobs of one prepared batch whose worker went silent long ago."""
    template = make_template(name="t.mp4")
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    for position in (2, 3):  # the same template twice more: three jobs of one batch
        RenderJob.objects.create(
            batch=batch, template=template, template_name="t.mp4", position=position
        )
    Batch.objects.filter(pk=batch.pk).update(prepare_queued_at=None)  # prepared
    jobs = list(batch.jobs.order_by("position"))
    for job in jobs:
        assert lifecycle.job_claim(job_id=job.pk)
    RenderJob.objects.filter(batch=batch).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    sent.clear()
    return jobs


def _between_read_and_update(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None]
) -> None:
    """Run `meanwhile` right after the watchdog has read its rows, before any update."""
    listed = leases._listed

    def read_then_race(rows: Any) -> list[Any]:
        found = listed(rows)
        if found and isinstance(found[0], RenderJob):
            monkeypatch.setattr(leases, "_listed", listed)  # once
            meanwhile()
        return found

    monkeypatch.setattr(leases, "_listed", read_then_race)


def test_a_job_that_heartbeats_or_finishes_after_the_watchdog_read_it_is_left_alone(
    running_jobs: list[RenderJob],
    sent: list[tuple[str, tuple[Any, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    beating, finishing, dead = running_jobs

    def meanwhile() -> None:
        assert lifecycle.job_heartbeat(job_id=beating.pk, progress=0.5)
        finish_job_running(finishing)

    _between_read_and_update(monkeypatch, meanwhile)
    assert lifecycle.jobs_requeue_stale() == (1, 0)
    assert sent == [("jobs.tasks.job_render", (str(dead.pk),))]
    statuses = {j.pk: (j.status, j.progress) for j in RenderJob.objects.filter(batch=dead.batch_id)}
    assert statuses == {
        beating.pk: (JobStatus.RUNNING, 0.5),
        finishing.pk: (JobStatus.FAILED, 0.0),
        dead.pk: (JobStatus.QUEUED, 0.0),
    }


def finish_job_running(job: RenderJob) -> None:
    """The job's worker records its end (a failure here) as the watchdog runs."""
    row = RenderJob.objects.select_related("batch").get(pk=job.pk)
    assert lifecycle.job_fail(job=row, message="broken", code="render_failed")


def test_two_watchdogs_at_once_requeue_a_dead_job_once_and_send_it_once(
    running_jobs: list[RenderJob],
    sent: list[tuple[str, tuple[Any, ...]]],
    monkeypatch: pytest.MonkeyPatch,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.RENDER_MAX_ATTEMPTS = 1  # the second half: both would fail the jobs
    second: list[tuple[int, int]] = []
    _between_read_and_update(monkeypatch, lambda: second.append(lifecycle.jobs_requeue_stale()))
    assert lifecycle.jobs_requeue_stale() == (0, 0)  # the other watchdog did it all
    assert second == [(0, 3)]
    assert set(RenderJob.objects.values_list("status", "error_code")) == {
        (JobStatus.FAILED, "worker_lost")
    }

    settings.RENDER_MAX_ATTEMPTS = 3
    RenderJob.objects.update(status=JobStatus.RUNNING, error_code="", finished_at=None)
    second.clear()
    _between_read_and_update(monkeypatch, lambda: second.append(lifecycle.jobs_requeue_stale()))
    assert lifecycle.jobs_requeue_stale() == (0, 0)
    assert second == [(3, 0)]
    assert sorted(args for _, args in sent) == sorted((str(j.pk),) for j in running_jobs)


def test_a_lost_preparation_is_sent_again_and_its_renders_wait_for_it(
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    sent: list[tuple[str, tuple[Any, ...]]],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    assert sent == [("jobs.tasks.batch_prepare", (str(batch.pk),))]
    sent.clear()
    # A worker took the preparation and died: it holds the lease with a stopped heartbeat.
    assert leases.claim(preparation.PREPARE_LEASE, batch.pk)
    assert preparation.batch_prepare(batch_id=batch.pk) == 0  # a twin finds it held
    later = timezone.now() + timedelta(seconds=settings.JOB_STALE_AFTER + 1)
    # Its queued job is not sent on its own (it would render without the batch's words)...
    assert tasks.requeue_stale_jobs() == (0, 0, 0)
    assert lifecycle.jobs_resend_stranded(now=later) == 0
    # ...the preparation is, once per period.
    assert leases.sweep(preparation.PREPARE_LEASE, now=later) == leases.Sweep(requeued=1)
    assert leases.sweep(preparation.PREPARE_LEASE, now=later) == leases.Sweep()
    assert sent == [("jobs.tasks.batch_prepare", (str(batch.pk),))]
    sent.clear()
    assert preparation.batch_prepare(batch_id=batch.pk) == 1
    assert [f for f, _ in sent] == ["jobs.tasks.job_render"]
    batch.refresh_from_db()
    assert (batch.prepare_queued_at, batch.prepare_heartbeat_at, batch.prepare_attempts) == (
        None,
        None,
        2,
    )


def test_a_preparation_that_keeps_killing_its_worker_fails_the_jobs_with_a_sentence(
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    sent: list[tuple[str, tuple[Any, ...]]],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    now = timezone.now()
    for attempt in range(1, settings.RENDER_MAX_ATTEMPTS + 1):
        assert leases.claim(preparation.PREPARE_LEASE, batch.pk, now=now)
        now += timedelta(seconds=settings.JOB_STALE_AFTER + 1)
        expected = (
            leases.Sweep(failed=1)
            if attempt == settings.RENDER_MAX_ATTEMPTS
            else leases.Sweep(requeued=1)
        )
        assert leases.sweep(preparation.PREPARE_LEASE, now=now) == expected
    job = batch.jobs.get()
    assert (job.status, job.error_code, job.error_params) == (
        JobStatus.FAILED,
        "preparation_lost",
        {"attempts": settings.RENDER_MAX_ATTEMPTS},
    )
    batch.refresh_from_db()
    assert batch.finished_at is not None and batch.prepare_queued_at is None


def test_a_render_that_finds_no_words_where_they_were_asked_for_makes_them(
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    transcripts_on: Path,
    sent: list[tuple[str, tuple[Any, ...]]],
) -> None:
    """A render task that outlived its preparation (sent before the words were stored)."""
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], captions="bottom"
    )
    job = batch.jobs.get()
    assert runner.job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    batch.refresh_from_db()
    job.refresh_from_db()
    assert batch.transcript is not None and batch.subtitle_cues
    log = job_log.log_text(job.log)
    assert "Transcript made for this video" in log
    assert "Captions drawn in" in log


@pytest.mark.slow
def test_a_cluster_killed_mid_preparation_keeps_the_words_and_renders_once(
    owner: User, template: Template, transcripts_on: Path, tmp_path: Path, settings, queue_name: str
) -> None:
    from tests.jobs.test_worker_crash import _long_speech
    from tests.support.media import uploaded
    from tests.support.processes import child_env, stop_process_group, wait_for, worker

    preparation.template_analyse(template_id=template.pk)  # tracked here (cached)
    settings.JOB_STALE_AFTER = 3.0
    env = child_env(
        Q_CLUSTER_NAME=queue_name,
        Q_WORKERS="1",
        JOB_HEARTBEAT_INTERVAL="0.5",
        JOB_STALE_AFTER="3",
        WHISPER_MODEL_DIR=str(transcripts_on),
    )
    audio = services.audio_upload(
        owner=owner, uploaded=uploaded(_long_speech(tmp_path / "long.wav", 4))
    )
    batch = services.batch_create(
        owner=owner, audio_id=audio.pk, template_ids=[template.pk], captions="bottom"
    )
    with worker(env, tmp_path / "worker1.log") as first:
        wait_for(
            lambda: Batch.objects.filter(pk=batch.pk, prepare_heartbeat_at__isnull=False).exists(),
            timeout=120,
            what="the preparation to start",
            interval=0.05,
        )
        stop_process_group(first, hard=True)
    batch.refresh_from_db()
    assert batch.transcript is None and batch.jobs.get().status == JobStatus.QUEUED
    time.sleep(settings.JOB_STALE_AFTER + 0.3)
    assert tasks.requeue_stale_jobs() == (1, 0, 0)  # the preparation, not the render
    with worker(env, tmp_path / "worker2.log"):
        wait_for(
            lambda: Batch.objects.filter(pk=batch.pk, finished_at__isnull=False).exists(),
            timeout=300,
            what="the batch to finish",
        )
    batch.refresh_from_db()
    job = batch.jobs.get()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert batch.transcript is not None and batch.subtitle_cues
    assert batch.prepare_attempts == 2 and batch.prepare_queued_at is None
    assert "Captions drawn in" in job_log.log_text(job.log)
