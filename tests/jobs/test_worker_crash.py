"""A real worker cluster is killed (SIGKILL, as the OOM killer would) in the middle of a
render. The job must not stay "running": the watchdog requeues it once its heartbeat stops,
and a restarted worker renders it exactly once."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import User
from jobs import lifecycle, services
from jobs.models import JobStatus, RenderJob
from rendering.media import probe
from tests.support.media import SPEECH, uploaded
from tests.support.processes import child_env, stop_process_group, wait_for, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _long_speech(path: Path, repeats: int) -> Path:
    with wave.open(str(SPEECH), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        for _ in range(repeats):
            out.writeframes(frames)
    return path


def test_a_killed_worker_leaves_no_job_stuck_and_the_job_is_rendered_exactly_once(
    owner: User, template, tmp_path: Path, settings, queue_name: str
) -> None:
    settings.JOB_STALE_AFTER = 3.0
    env = child_env(
        Q_CLUSTER_NAME=queue_name,
        Q_WORKERS="1",
        JOB_HEARTBEAT_INTERVAL="0.5",
        JOB_STALE_AFTER="3",
        JOB_PROGRESS_INTERVAL="0.2",
    )
    audio = services.audio_upload(
        owner=owner, uploaded=uploaded(_long_speech(tmp_path / "long.wav", 6))
    )
    batch = services.batch_create(
        owner=owner, audio_id=audio.pk, template_ids=[template.pk], name="Crash test"
    )
    job = batch.jobs.get()

    with worker(env, tmp_path / "worker1.log") as first:
        wait_for(
            lambda: RenderJob.objects.filter(
                pk=job.pk, status=JobStatus.RUNNING, progress__gt=0.05
            ).exists(),
            timeout=180,
            what="the first worker to be mid-render",
            interval=0.1,
        )
        stop_process_group(first, hard=True)

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)  # what a dead worker leaves
    assert job.progress < 1.0
    wait_for(
        lambda: (
            (timezone.now() - RenderJob.objects.get(pk=job.pk).heartbeat_at).total_seconds() > 3.2
        ),
        timeout=30,
        what="the heartbeat to go stale",
    )
    assert lifecycle.jobs_requeue_stale() == (1, 0)

    with worker(env, tmp_path / "worker2.log"):
        wait_for(
            lambda: (
                RenderJob.objects.filter(pk=job.pk)
                .exclude(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
                .exists()
            ),
            timeout=240,
            what="the restarted worker to finish the job",
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (
        job.error_message,
        (tmp_path / "worker2.log").read_text()[-2000:],
    )
    assert job.attempts == 2
    folder = Path(settings.MEDIA_ROOT) / owner.storage_prefix / "batches" / batch.pk.hex
    # Exactly one result: the killed attempt's partial file was cleaned up.
    assert [p.name for p in folder.iterdir()] == ["output_001.mp4"]
    assert abs(probe(folder / "output_001.mp4").duration - audio.duration) < 0.2
