"""Render one job in a worker: the service behind the `job_render` task.

1. Claim the job with a conditional update (a second delivery of the same task does nothing).
2. Load the batch's audio features and the template's face track (both cached on disk by
   content hash, so the audio is analysed once per batch and each face tracked once).
3. Render through the batch's engine into a temporary file on this host, writing
   progress about once a second; a heartbeat thread keeps `heartbeat_at` fresh even while
   the engine is busy, so the watchdog only requeues jobs whose worker really died.
4. Measure the file, put it into storage (``rendering.quality``, on the face that was
   edited; a measurement that breaks is logged and never fails the job) and record success
   with its report in a conditional update; a job canceled meanwhile keeps its canceled
   state and its file is dropped.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import ExitStack
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from jobs import lifecycle, transcripts
from jobs.heartbeats import Heartbeat
from jobs.job_log import JobLog
from jobs.models import FaceStatus, JobStatus, RenderJob, output_upload_to
from jobs.storage import files, usage
from jobs.uploads import media_limits
from jobs.worker.engines import analysis_options, engine_options
from jobs.worker.preparation import (
    batch_words_ensure,
    template_face_hint,
    template_face_record,
    template_speaker_hint,
)
from rendering.cache import file_sha256

log = logging.getLogger("heygem.jobs")

GENERIC_FAILURE = (
    "Something went wrong while rendering this video. Retry it; if it fails again, "
    "try another template or contact support."
)


def _engine(name: str) -> Any:
    """The engine for ``name`` built from the current settings (see ``_built_engine``)."""
    return _built_engine(name, tuple(sorted(engine_options(name).items())))


@cache
def _built_engine(name: str, options: tuple[tuple[str, Any], ...]) -> Any:
    # One engine per process, name and options: neural weights load once per worker, not
    # per job; a changed setting (a test's own cache folder) builds a new one.
    from rendering.engines import get_engine

    return get_engine(name, **dict(options))


# The job's own log is written as codes and parameters and worded when shown (jobs.job_log).
_JobLog = JobLog


def job_run(*, job_id: Any) -> str:
    if not lifecycle.job_claim(job_id=job_id):
        return "not claimed"
    return job_run_claimed(job_id=job_id)


def job_run_claimed(*, job_id: Any) -> str:
    """Steps 2-4 for a job this worker has claimed."""
    from rendering import audio as audio_analysis
    from rendering import faces
    from rendering.errors import FaceError, RenderCanceled, RenderingError

    job = (
        RenderJob.objects.select_related("batch__audio", "batch__owner", "template")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        # Deleted (marked, maybe purged) between the claim and here: the deletion already
        # canceled it and took care of its files, so there is nothing left to do.
        log.info("job deleted before it started", extra={"job_id": str(job_id)})
        return "missing"
    batch = job.batch
    ids = {"user_id": batch.owner_id, "batch_id": str(batch.pk), "job_id": str(job.pk)}
    log.info("job started", extra=ids | {"attempt": job.attempts})
    joblog = _JobLog()
    joblog.add("attempt", attempt=job.attempts, engine=batch.engine)
    if job.template is None:
        lifecycle.job_fail(
            job=job,
            message="The template video was deleted before this job ran.",
            log_text=joblog.text(),
            code="template_deleted",
        )
        return JobStatus.FAILED

    # The quota, with the estimate corrected by what this template's earlier results
    # measured: a video that no longer fits fails now, not after it was rendered.
    over = usage.job_start_check(job=job)
    if over is not None:
        lifecycle.job_fail(
            job=job,
            message=usage.QUOTA_AT_START % over,
            log_text=joblog.text(),
            code="quota_at_start",
            params=over,
        )
        return JobStatus.FAILED

    final_name = output_upload_to(job, "")
    # The render is written on this host (SCRATCH_DIR) and put into storage when complete.
    # Partial files of earlier attempts on this host (a worker killed mid-render leaves
    # them: ours and the encoder's own temporary names, all hidden and holding the job id).
    scratch = files.scratch_dir()
    for stale in scratch.glob(f".*job-{job.pk.hex}*"):
        stale.unlink(missing_ok=True)
    partial = scratch / f".job-{job.pk.hex}.{job.attempts}.partial.mp4"
    inputs = ExitStack()
    heartbeat = Heartbeat(lambda: lifecycle.job_heartbeat(job_id=job.pk), f"heartbeat-{job.pk}")
    heartbeat.start()
    last_write = 0.0

    def progress(fraction: float) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write >= settings.JOB_PROGRESS_INTERVAL or fraction >= 1.0:
            last_write = now
            if not lifecycle.job_heartbeat(job_id=job.pk, progress=fraction):
                heartbeat.alive = False

    def should_cancel() -> bool:
        return not heartbeat.alive

    try:
        cache_dir = Path(settings.RENDER_CACHE_DIR)
        # Working copies of the inputs (the stored files themselves on the local disk).
        audio_path = inputs.enter_context(files.local_copy(batch.audio.file.name))
        template_path = inputs.enter_context(files.local_copy(job.template.file.name))
        if batch_words_ensure(batch=batch, audio_path=audio_path):
            joblog.add("transcript_made")
        features = audio_analysis.analyse(
            audio_path,
            cache_dir=cache_dir,
            **analysis_options(batch.engine),
        )
        from jobs.transcripts import features_with_words

        features = features_with_words(features, batch)
        joblog.add("audio_ready", duration=round(float(features.duration), 1))
        face = template_face_hint(job.template)
        if face is not None:
            joblog.add(
                "face_chosen",
                number=int(job.template.face_choice or 0) + 1,
                faces=len(job.template.face_list),
            )
        try:
            track = faces.track(
                template_path,
                cache_dir=cache_dir,
                limits=media_limits(max_duration=settings.MAX_TEMPLATE_SECONDS),
                face=face,
            )
            # A template checked before this test existed (or with another face chosen
            # since) is refused here, and marked, so it is not offered again.
            faces.check_usable(track)
        except FaceError as exc:
            template_face_record(
                template_id=job.template.pk, error=exc.message, code=exc.code, params=exc.params
            )
            raise
        if job.template.face_status != FaceStatus.READY:
            template_face_record(template_id=job.template.pk, error=None)
        joblog.add("face_track", present=int(track.present.sum()), frames=int(track.n_frames))
        # A long video is rendered as segments by several tasks (jobs.worker.segments).
        from jobs.worker.segments import job_split_if_long

        if job_split_if_long(job=job, features=features, track=track, joblog=joblog):
            return "split"
        # Captions are drawn into the frames as the engine writes them: one encode.
        captions = transcripts.caption_overlay(
            batch=batch, width=track.width, height=track.height, fps=track.fps
        )
        result = _engine(batch.engine).render(
            template=template_path,
            track=track,
            audio=features,
            audio_path=audio_path,
            out_path=partial,
            progress=progress,
            should_cancel=should_cancel,
            overlay=captions.draw if captions is not None else None,
        )
        joblog.add("rendered", frames=int(result.frames), seconds=round(float(result.seconds), 1))
        if captions is not None:
            joblog.add("captions", position=batch.captions, size=batch.caption_size)
        speaker = face if face is not None else template_speaker_hint(job.template)
        report = _measure(
            partial,
            features,
            template_path,
            track,
            result,
            speaker,
            joblog=joblog,
            ids=ids,
            skip_rows=captions.band if captions is not None else None,
        )
        return publish(
            job=job,
            video=partial,
            name=final_name,
            duration=result.duration,
            log_text=joblog.text(),
            quality=report,
        )
    except RenderCanceled:
        log.info("job stopped: canceled", extra=ids)
        return JobStatus.CANCELED
    except RenderingError as exc:
        joblog.failure(exc)
        lifecycle.job_fail(
            job=job, message=exc.message, log_text=joblog.text(), code=exc.code, params=exc.params
        )
        return JobStatus.FAILED
    except Exception:
        joblog.add("failed", error_code="unexpected", message=GENERIC_FAILURE)
        log.exception("job crashed", extra=ids)
        lifecycle.job_fail(
            job=job,
            message=GENERIC_FAILURE,
            log_text=joblog.text() + "\n" + traceback.format_exc(limit=3),
            code="unexpected",
        )
        return JobStatus.FAILED
    finally:
        heartbeat.end()
        partial.unlink(missing_ok=True)
        inputs.close()
        close_old_connections()


def publish(
    *,
    job: RenderJob,
    video: Path,
    name: str,
    duration: float,
    log_text: str,
    quality: dict[str, Any] | None,
) -> str:
    """Put a finished render into storage and record the job's success (checksum from the
    local file); a job canceled meanwhile keeps its state and the stored file is dropped."""
    sha256 = file_sha256(video)
    size = files.put(video, name, content_type="video/mp4")
    if not lifecycle.job_succeed(
        job=job,
        output_name=name,
        size=size,
        duration=duration,
        log_text=log_text,
        quality=quality,
        sha256=sha256,
    ):
        files.delete(name)
        return JobStatus.CANCELED
    return JobStatus.SUCCEEDED


# The measure streams the result's frames (memory stays flat); its first 20 s tell as
# much as the whole and keep the cost bounded after a long render.
QUALITY_SECONDS = 20.0


def _measure(
    video: Path,
    features: Any,
    template: Path,
    track: Any,
    result: Any,
    face: Any,
    *,
    joblog: _JobLog,
    ids: dict[str, Any],
    skip_rows: tuple[int, int] | None = None,
) -> dict[str, Any] | None:
    """The result's quality report (``rendering.quality.assess``) as a dict, or None.
    ``skip_rows``: the captions' band, which is not the engine's edit.

    A measurement that breaks must never fail a video that rendered: it is logged and the
    job simply has no report.
    """
    try:
        from rendering import quality

        report = quality.assess(
            video,
            features,
            template=template,
            track=track,
            coverage=float(result.coverage),
            face=face,
            max_seconds=QUALITY_SECONDS,
            skip_rows=skip_rows,
            frames_out=int(result.frames),
        ).to_dict()
    except Exception as exc:
        log.exception("quality not measured", extra=ids)
        joblog.add("quality_not_measured", error=type(exc).__name__)
        return None
    sync = report.get("sync")
    reasons: list[Any] = list(report.get("reasons") or [])  # type: ignore[call-overload]
    joblog.add(
        "quality",
        sync=sync if isinstance(sync, float) else None,
        coverage=report["coverage"],
        review=bool(report["review"]),
        reasons=[str(r) for r in reasons] if report["review"] else [],
    )
    log.info(
        "job quality measured",
        extra=ids
        | {
            "sync": sync,
            "coverage": report.get("coverage"),
            "review": report.get("review"),
            "reasons": report.get("reasons"),
        },
    )
    return report
