"""A real worker cluster is killed (SIGKILL, as the OOM killer would) in the middle of a
render. The job must not stay "running": the watchdog requeues it once its heartbeat stops,
and a restarted worker renders it exactly once."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import JobStatus, RenderJob
from jobs.render import lifecycle
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


def _flipped(src: Path, dst: Path) -> Path:
    """The same video mirrored: another file (uploads are stored once per content)."""
    from rendering.media import VideoWriter, iter_frames

    frames = iter_frames(src)
    first = next(frames)
    with VideoWriter(dst, width=first.shape[1], height=first.shape[0], fps=25) as writer:
        writer.write(first[:, ::-1])
        for frame in frames:
            writer.write(frame[:, ::-1])
    return dst


def test_killing_the_whole_cluster_strands_no_job_queued_or_running(
    owner: User, make_template, tmp_path: Path, settings, queue_name: str
) -> None:
    """Two jobs rendering and two waiting in the cluster's hands when every process of it is
    SIGKILLed: after JOB_STALE_AFTER one watchdog run puts all four back in play (the running
    ones requeued, the queued ones' lost tasks sent again), and a new cluster renders each
    exactly once. Runs on the ORM broker and, on CI's second leg, on Redis."""
    from django_q.brokers import get_broker

    from jobs import tasks
    from jobs.render.worker import preparation

    settings.JOB_STALE_AFTER = 3.0
    env = child_env(
        Q_CLUSTER_NAME=queue_name,
        Q_WORKERS="2",
        JOB_HEARTBEAT_INTERVAL="0.5",
        JOB_STALE_AFTER="3",
        JOB_PROGRESS_INTERVAL="0.2",
    )
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    sources = [fixtures / "face.mp4", fixtures / "face_with_audio.mp4"]
    sources += [_flipped(s, tmp_path / f"flipped_{s.name}") for s in sources]
    templates = [make_template(s, name=f"t{i}.mp4") for i, s in enumerate(sources, start=1)]
    for t in templates:  # tracked here (cached), so the cluster's own face checks are instant
        preparation.template_analyse(template_id=t.pk)
    audio = services.audio_upload(
        owner=owner, uploaded=uploaded(_long_speech(tmp_path / "long.wav", 12))
    )
    batch = services.batch_create(
        owner=owner, audio_id=audio.pk, template_ids=[t.pk for t in templates], name="Dies"
    )
    jobs = RenderJob.objects.filter(batch=batch)

    with worker(env, tmp_path / "worker1.log") as first:
        wait_for(
            lambda: jobs.filter(status=JobStatus.RUNNING, progress__gt=0.02).count() == 2,
            timeout=180,
            what="two jobs mid-render",
            interval=0.1,
        )
        stop_process_group(first, hard=True)

    # What a dead cluster leaves: two running with a stopped heartbeat, two queued whose
    # tasks it had taken (ORM broker: locked for `retry` seconds; Redis: gone).
    assert sorted(jobs.values_list("status", "attempts")) == sorted(
        [(JobStatus.RUNNING, 1)] * 2 + [(JobStatus.QUEUED, 0)] * 2
    )
    assert get_broker().queue_size() == 0  # no task left for a new cluster to find
    time.sleep(settings.JOB_STALE_AFTER + 0.3)
    assert tasks.requeue_stale_jobs() == (2, 0, 2)  # one watchdog run

    with worker(env, tmp_path / "worker2.log"):
        wait_for(
            lambda: not jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists(),
            timeout=300,
            what="the new cluster to finish every job",
        )
        time.sleep(2)  # room for any spare task to (wrongly) run a job again
    log_tail = (tmp_path / "worker2.log").read_text()[-3000:]
    outcome = sorted(jobs.values_list("status", "attempts"))
    assert outcome == sorted([(JobStatus.SUCCEEDED, 2)] * 2 + [(JobStatus.SUCCEEDED, 1)] * 2), (
        outcome,
        log_tail,
    )
    folder = Path(settings.MEDIA_ROOT) / owner.storage_prefix / "batches" / batch.pk.hex
    assert sorted(p.name for p in folder.iterdir()) == [f"output_00{i}.mp4" for i in range(1, 5)]
