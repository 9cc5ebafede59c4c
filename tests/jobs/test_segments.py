"""Long renders split into segments (issue #17, item 4), on real media: the parts are
rendered by separate tasks, joined frame-exactly under the original sound, watched by the
watchdog, canceled together, and one failing part fails the job with a sentence."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from django.utils import timezone

from accounts.models import User
from jobs import services, tasks
from jobs.models import JobStatus, RenderJob, RenderSegment, SegmentStatus, Template
from jobs.render import job_log
from jobs.render import segment_plan as segments
from jobs.render.job_log import log_text
from jobs.render.worker import preparation, runner, steps
from jobs.render.worker import segment_render as segment_worker
from rendering.media import probe, read_audio, read_frames
from tests.support.media import SPEECH, uploaded
from tests.support.processes import child_env, stop_process_group, wait_for, worker

pytestmark = pytest.mark.django_db(transaction=True)


def _speech(path: Path, repeats: int) -> Path:
    with wave.open(str(SPEECH), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        for _ in range(repeats):
            out.writeframes(frames)
    return path


def _job(owner: User, template: Template, audio_path: Path = SPEECH) -> RenderJob:
    audio = services.audio_upload(owner=owner, uploaded=uploaded(audio_path))
    batch = services.batch_create(owner=owner, audio_id=audio.pk, template_ids=[template.pk])
    preparation.batch_prepare(batch_id=batch.pk)
    return batch.jobs.get()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_it_plans_frame_exact_segments_without_a_tiny_last_one(settings) -> None:
    settings.RENDER_SEGMENT_SECONDS = 1.0
    assert segments.segments_plan(n_frames=120, fps=25) == [
        (0, 25),
        (25, 50),
        (50, 75),
        (75, 100),
        (100, 120),
    ]
    assert segments.segments_plan(n_frames=110, fps=25)[-1] == (75, 110)  # 10 left: merged
    assert segments.segments_plan(n_frames=25, fps=25) == []
    settings.RENDER_SEGMENT_SECONDS = 0.0
    assert segments.segments_plan(n_frames=10_000, fps=25) == []


@pytest.mark.slow
def test_a_long_render_is_split_rendered_by_two_workers_and_joined_without_a_seam(
    owner: User, template: Template, tmp_path: Path, settings, queue_name: str
) -> None:
    # The same inputs rendered whole, in this process: what the joined video must equal.
    settings.RENDER_SEGMENT_SECONDS = 0
    whole = _job(owner, template)
    assert runner.job_run(job_id=whole.pk) == JobStatus.SUCCEEDED
    whole.refresh_from_db()

    env = child_env(Q_CLUSTER_NAME=queue_name, Q_WORKERS="2", RENDER_SEGMENT_SECONDS="1")
    audio = services.audio_upload(owner=owner, uploaded=uploaded(SPEECH, "again.wav"))
    batch = services.batch_create(owner=owner, audio_id=audio.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    with worker(env, tmp_path / "worker.log"):
        wait_for(
            lambda: (
                RenderJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).exists()
                or RenderJob.objects.filter(pk=job.pk, status=JobStatus.FAILED).exists()
            ),
            timeout=240,
            what="the segmented job to finish",
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, job.log)
    parts = list(job.segments.order_by("index").values_list("start_frame", "stop_frame", "status"))
    assert [(a, b) for a, b, _ in parts] == [(0, 25), (25, 50), (50, 75), (75, 100), (100, 120)]
    assert {s for _, _, s in parts} == {SegmentStatus.JOINED}
    assert "Joined 5 parts: 120 frames" in log_text(job.log)
    assert job.progress == 1.0

    media = Path(settings.MEDIA_ROOT)
    joined, full = media / job.output.name, media / whole.output.name
    info = probe(joined)
    assert info.video is not None and info.audio is not None
    assert info.video.frame_count == 120  # round(4.8 s * 25 fps): none dropped, none doubled
    assert abs(info.audio.duration - info.video.duration) < 0.05
    ours, reference = read_frames(joined)[0], read_frames(full)[0]
    assert len(ours) == len(reference) == 120
    # Every frame is the whole render's same frame (up to encoding), and at each joint it is
    # closer to that frame than to its neighbours: nothing repeated or skipped, no jump.
    assert min(_psnr(a, b) for a, b in zip(ours, reference, strict=True)) > 33
    for joint in (25, 50, 75, 100):
        for j in (joint - 1, joint):
            same = _psnr(ours[j], reference[j])
            assert same >= _psnr(ours[j], reference[j - 1]), j
            assert same >= _psnr(ours[j], reference[j + 1]), j
    # One sound over the whole: the original, decoded, equals the unsegmented result's.
    a, b = read_audio(joined), read_audio(full)
    assert len(a) == len(b) and float(np.max(np.abs(a - b))) < 1e-3
    # The parts are gone; only the result is left in the batch's folder.
    assert sorted(p.name for p in joined.parent.iterdir()) == ["output_001.mp4"]


def test_a_failing_part_fails_the_job_with_a_sentence_and_stops_the_others(
    owner: User, template: Template, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RENDER_SEGMENT_SECONDS = 1.0
    job = _job(owner, template)
    assert runner.job_run(job_id=job.pk) == "split"
    ids = list(job.segments.order_by("index").values_list("pk", flat=True))
    assert len(ids) == 5
    assert segment_worker.segment_run(segment_id=ids[0]) == "not joined"  # 4 parts to go

    engine = steps.engine_for("classic")
    real = engine.render

    def breaks_on_part_three(**kwargs: object) -> object:
        if kwargs["frame_range"] == (50, 75):
            raise RuntimeError("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(engine, "render", breaks_on_part_three)
    assert segment_worker.segment_run(segment_id=ids[2]) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_message == (
        "Part 3 of 5 of this video could not be rendered. Retry it; if it fails again, try "
        "another template or contact support."
    )
    assert job.error_code == "segment_failed"
    statuses = dict(job.segments.values_list("index", "status"))
    assert statuses[2] == SegmentStatus.FAILED
    assert {statuses[i] for i in (0, 1, 3, 4)} == {SegmentStatus.CANCELED}
    assert segment_worker.segment_run(segment_id=ids[1]) == "not claimed"  # it stopped


def test_cancel_stops_every_part_and_retry_renders_them_all_again(
    owner: User, template: Template, settings
) -> None:
    settings.RENDER_SEGMENT_SECONDS = 1.0
    job = _job(owner, template)
    assert runner.job_run(job_id=job.pk) == "split"
    first = job.segments.get(index=0)
    assert segment_worker.segment_run(segment_id=first.pk) == "not joined"
    assert segments.segment_claim(segment_id=job.segments.get(index=1).pk)  # mid-render

    services.batch_cancel(batch=job.batch)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert set(job.segments.values_list("status", flat=True)) == {SegmentStatus.CANCELED}
    # A worker still rendering part 2 learns it at its next heartbeat; queued parts never start.
    assert not segments.segment_heartbeat(segment=job.segments.get(index=1), progress=0.5)
    assert segment_worker.segment_run(segment_id=job.segments.get(index=2).pk) == "not claimed"

    assert services.job_retry(job=RenderJob.objects.get(pk=job.pk))
    assert not RenderSegment.objects.filter(job=job).exists()
    assert runner.job_run(job_id=job.pk) == "split"
    results = [
        segment_worker.segment_run(segment_id=pk)
        for pk in job.segments.order_by("index").values_list("pk", flat=True)
    ]
    assert results == ["not joined"] * 4 + [JobStatus.SUCCEEDED]
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert probe(Path(settings.MEDIA_ROOT) / job.output.name).video.frame_count == 120  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_killed_worker_costs_one_part_not_the_video(
    owner: User, template: Template, tmp_path: Path, settings, queue_name: str
) -> None:
    settings.JOB_STALE_AFTER = 3.0
    settings.RENDER_SEGMENT_SECONDS = 6.0
    env = child_env(
        Q_CLUSTER_NAME=queue_name,
        Q_WORKERS="1",
        JOB_HEARTBEAT_INTERVAL="0.5",
        JOB_STALE_AFTER="3",
        JOB_PROGRESS_INTERVAL="0.2",
        RENDER_SEGMENT_SECONDS="6",
    )
    audio = services.audio_upload(owner=owner, uploaded=uploaded(_speech(tmp_path / "l.wav", 6)))
    batch = services.batch_create(owner=owner, audio_id=audio.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    parts = RenderSegment.objects.filter(job=job)

    # Parts of 6 s (about a second of work each here): long enough that the one being
    # rendered is caught mid-way however fast the machine is (2 s parts finished between polls).
    with worker(env, tmp_path / "worker1.log") as first:
        wait_for(
            lambda: (
                parts.filter(status=SegmentStatus.RENDERED).exists()
                and parts.filter(status=SegmentStatus.RUNNING, progress__gt=0.05).exists()
            ),
            timeout=240,
            what="one part rendered and another mid-render",
            interval=0.05,
        )
        stop_process_group(first, hard=True)

    killed = parts.get(status=SegmentStatus.RUNNING)
    rendered = set(parts.filter(status=SegmentStatus.RENDERED).values_list("pk", flat=True))
    assert RenderJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    wait_for(
        lambda: (timezone.now() - parts.get(pk=killed.pk).heartbeat_at).total_seconds() > 3.2,
        timeout=30,
        what="the part's heartbeat to go stale",
    )
    requeued, failed, _ = tasks.requeue_stale_jobs()
    assert (requeued, failed) == (1, 0)  # the part, not the job

    with worker(env, tmp_path / "worker2.log"):
        wait_for(
            lambda: (
                RenderJob.objects.filter(pk=job.pk)
                .exclude(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
                .exists()
            ),
            timeout=300,
            what="the restarted worker to finish the job",
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, job.log)
    assert job.attempts == 1  # the job itself was never requeued
    attempts = dict(parts.values_list("pk", "attempts"))
    assert attempts[killed.pk] == 2
    assert all(attempts[pk] == 1 for pk in rendered)  # finished parts were not redone
    n_frames = round(6 * 4.798875 * 25)
    info = probe(Path(settings.MEDIA_ROOT) / job.output.name)
    assert info.video is not None and info.video.frame_count == n_frames


@pytest.mark.slow
def test_a_segmented_captioned_render_matches_the_whole_render_frame_by_frame(
    owner: User, template: Template, settings
) -> None:
    """Each part draws the captions of its own frames (not from frame 0): cues that change
    every half second make every part's captions differ from the first part's."""
    cues = [
        {"start": i * 0.5, "end": (i + 1) * 0.5, "lines": [f"Line {i} {'W' * (i % 4 + 2)}"]}
        for i in range(10)
    ]

    def captioned_job(name: str) -> RenderJob:
        audio = services.audio_upload(owner=owner, uploaded=uploaded(SPEECH, name))
        batch = services.batch_create(
            owner=owner, audio_id=audio.pk, template_ids=[template.pk], captions="bottom"
        )
        preparation.batch_prepare(batch_id=batch.pk)
        type(batch).objects.filter(pk=batch.pk).update(subtitle_cues=cues, transcript_status="")
        return batch.jobs.get()

    settings.RENDER_SEGMENT_SECONDS = 0
    whole = captioned_job("whole.wav")
    assert runner.job_run(job_id=whole.pk) == JobStatus.SUCCEEDED
    settings.RENDER_SEGMENT_SECONDS = 1.0
    job = captioned_job("parts.wav")
    assert runner.job_run(job_id=job.pk) == "split"
    for segment_id in job.segments.order_by("index").values_list("pk", flat=True):
        segment_worker.segment_run(segment_id=segment_id)
    job.refresh_from_db()
    whole.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, job.log)
    assert "Joined 5 parts" in job_log.log_text(job.log)
    media = Path(settings.MEDIA_ROOT)
    ours = read_frames(media / job.output.name)[0]
    reference = read_frames(media / whole.output.name)[0]
    assert len(ours) == len(reference) == 120
    height = ours[0].shape[0]
    band = slice(int(height * 0.6), height)  # the lower part, where captions go
    worst = min(_psnr(a[band], b[band]) for a, b in zip(ours, reference, strict=True))
    assert worst > 30, worst
    # The measure tells captions apart: the first part's captions over a later frame differ.
    assert _psnr(ours[60][band], reference[10][band]) < worst
