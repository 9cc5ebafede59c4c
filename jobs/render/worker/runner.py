"""Render one job in a worker: the service behind the `job_render` task.

The render itself is the recipe of ``rendering.recipe`` (prepare, render, measure), with
this host's working copies and settings (``jobs.render.worker.steps``); this module keeps Django's
part of it:

1. Claim the job with a conditional update (a second delivery of the same task does nothing).
2. Check the template and the quota, then prepare the inputs (the batch's audio features and
   the template's face track, both cached on disk by content hash, so the audio is analysed
   once per batch and each face tracked once); a template whose face is unusable is marked.
   A long video is handed to its segments here (``jobs.render.worker.segment_render``).
3. Render through the batch's engine into a temporary file on this host, writing
   progress about once a second; a heartbeat thread keeps `heartbeat_at` fresh even while
   the engine is busy, so the watchdog only requeues jobs whose worker really died.
4. Measure the file (on the face that was edited; a measurement that breaks is logged and
   never fails the job), put it into storage and record success with its report in a
   conditional update; a job canceled meanwhile keeps its canceled state and its file is
   dropped.
"""

from __future__ import annotations

import logging
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.models import FaceStatus, JobStatus, RenderJob, output_upload_to
from jobs.render import lifecycle
from jobs.render.heartbeats import Heartbeat
from jobs.render.job_log import JobLog
from jobs.render.worker import steps
from jobs.render.worker.preparation import (
    template_face_hint,
    template_face_record,
    template_speaker_hint,
)
from jobs.render.worker.segment_render import job_split_if_long
from jobs.storage import files, usage
from rendering.errors import FaceError, RenderCanceled, RenderingError

if TYPE_CHECKING:
    from rendering.recipe import Prepared, StepReport

log = logging.getLogger("heygem.jobs")


def job_run(*, job_id: Any) -> str:
    if not lifecycle.job_claim(job_id=job_id):
        return "not claimed"
    return job_run_claimed(job_id=job_id)


def job_run_claimed(*, job_id: Any) -> str:
    """Steps 2-4 for a job this worker has claimed."""
    # rendering loads PyAV and mediapipe: the web process imports this module (jobs.tasks).
    from rendering import recipe

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
    ids = lifecycle.log_ids(batch, job)
    log.info("job started", extra=ids | {"attempt": job.attempts})
    joblog = JobLog()
    joblog.add("attempt", attempt=job.attempts, engine=batch.engine)
    if _refused(job, joblog):
        return JobStatus.FAILED
    assert job.template is not None  # _refused otherwise

    final_name = output_upload_to(job, "")
    partial = _partial_path(job)
    heartbeat = Heartbeat(lambda: lifecycle.job_heartbeat(job_id=job.pk), f"heartbeat-{job.pk}")
    progress = steps.Progress(lambda f: lifecycle.job_heartbeat(job_id=job.pk, progress=f))
    template = job.template
    face = template_face_hint(template)
    chosen = None
    if face is not None:
        chosen = {"number": int(template.face_choice or 0) + 1, "faces": len(template.face_list)}
    on_step = steps.step_log(joblog, ids=ids, after_audio=chosen)

    with steps.attempt(heartbeat, partial) as inputs:
        try:
            prepared = _prepare(job, inputs, on_step)
            # A long video is rendered as segments by several tasks (jobs.render.worker.segment_render).
            if job_split_if_long(job=job, prepared=prepared, joblog=joblog):
                return "split"
            # Captions are drawn into the frames as the engine writes them: one encode.
            captions = steps.captions(job, prepared)
            result = recipe.render(
                prepared,
                steps.engine_for(batch.engine),
                partial,
                overlay=captions.draw if captions is not None else None,
                progress=progress,
                should_cancel=lambda: not (heartbeat.alive and progress.alive),
                on_step=on_step,
            )
            if captions is not None:
                joblog.add("captions", position=batch.captions, size=batch.caption_size)
            report = recipe.measure(
                partial,
                prepared,
                result,
                face=face if face is not None else template_speaker_hint(template),
                skip_rows=captions.band if captions is not None else None,
                on_step=on_step,
            )
            return steps.publish(
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
                job=job,
                code=exc.code,
                params=exc.params,
                message=exc.message,
                log_text=joblog.text(),
            )
            return JobStatus.FAILED
        except Exception:
            joblog.add("failed", error_code="unexpected")
            log.exception("job crashed", extra=ids)
            lifecycle.job_fail(
                job=job,
                code="unexpected",
                log_text=joblog.text() + "\n" + traceback.format_exc(limit=3),
            )
            return JobStatus.FAILED


def _refused(job: RenderJob, joblog: JobLog) -> bool:
    """Fail a job that cannot start (True): its template was deleted, or the owner's quota,
    with the estimate corrected by what this template's earlier results measured, has no
    room for it any more (it fails now, not after it was rendered)."""
    code, params = "", None
    if job.template is None:
        code = "template_deleted"
    elif (over := usage.job_start_check(job=job)) is not None:
        code, params = "quota_at_start", over
    if not code:
        return False
    lifecycle.job_fail(job=job, code=code, params=params, log_text=joblog.text())
    return True


def _partial_path(job: RenderJob) -> Path:
    """Where this attempt is written on this host (SCRATCH_DIR) until it is put into storage.
    Partial files of earlier attempts on this host (a worker killed mid-render leaves them:
    ours and the encoder's own temporary names, all hidden and holding the job id) go."""
    scratch = files.scratch_dir()
    for stale in scratch.glob(f".*job-{job.pk.hex}*"):
        stale.unlink(missing_ok=True)
    return scratch / f".job-{job.pk.hex}.{job.attempts}.partial.mp4"


def _prepare(job: RenderJob, inputs: ExitStack, on_step: StepReport) -> Prepared:
    """The recipe's inputs for a whole render, with the face check's own test: a template it
    refuses (checked before this test existed, or with another face chosen since) is marked,
    so it is not offered again; one that passes is marked ready."""

    template = job.template
    assert template is not None
    try:
        prepared = steps.job_prepare(
            job, inputs, on_step=on_step, make_words=True, require_usable=True
        )
    except FaceError as exc:
        template_face_record(
            template_id=template.pk, error=exc.message, code=exc.code, params=exc.params
        )
        raise
    if template.face_status != FaceStatus.READY:
        template_face_record(template_id=template.pk, error=None)
    return prepared
