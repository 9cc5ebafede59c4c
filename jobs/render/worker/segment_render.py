"""Render a long job as segments: the services behind the ``segment_render`` and
``job_join`` tasks, and the runner's branch point (:func:`job_split_if_long`).

1. The job's own task (``jobs.render.worker.runner``) prepares the inputs as for any render, then
   splits a long output into frame ranges (``jobs.render.segment_plan.segments_plan``) and sends one
   ``segment_render`` task per range; the job stays ``running``.
2. Each segment's task claims it, prepares the same inputs (cached) and renders its frames
   silently into its own file (``rendering.recipe.render`` with a frame range: the engine
   plans the whole video, so a segment holds exactly the frames the whole render would),
   with a heartbeat, then marks it rendered.
3. The task that renders the last part claims the join (exactly once), copies the parts'
   frames into one stream and muxes the original sound once over it
   (``rendering.recipe.join``; captions were drawn into the parts), measures, and
   records success as a whole render does; the parts' files are removed.

Every file name of a segment comes from ``jobs.models.segment_name`` / ``segment_folder``.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from django.db.models import Avg

from jobs.models import (
    JobStatus,
    RenderJob,
    RenderSegment,
    output_upload_to,
    segment_folder,
    segment_name,
)
from jobs.render import lifecycle
from jobs.render import segment_plan as segments
from jobs.render.heartbeats import Heartbeat
from jobs.render.job_log import JobLog
from jobs.render.worker import steps
from jobs.render.worker.preparation import template_face_hint, template_speaker_hint
from jobs.storage import files
from rendering.errors import RenderCanceled, RenderingError

if TYPE_CHECKING:
    from rendering.recipe import Prepared

log = logging.getLogger("heygem.jobs")

_RELATED = ("batch__audio", "batch__owner", "template")


def _remove_segment_files(job: RenderJob) -> None:
    files.delete_prefix(segment_folder(job))
    # the batch's "segments" folder, once no job uses it
    files.remove_empty_folders(str(PurePosixPath(segment_folder(job)).parent))


def job_split_if_long(*, job: RenderJob, prepared: Prepared, joblog: JobLog) -> bool:
    """The runner's branch point: split a long render into segment tasks (True), or leave
    it to render whole (False)."""
    n_frames = prepared.n_frames
    plan = segments.segments_plan(n_frames=n_frames, fps=prepared.track.fps)
    if not plan:
        return False
    _remove_segment_files(job)  # an earlier attempt's parts
    joblog.add("split", parts=len(plan), frames=int(n_frames))
    RenderJob.objects.filter(pk=job.pk).update(log=joblog.text())
    segments.job_split(job=job, plan=plan)
    return True


def segment_run(*, segment_id: Any) -> str:
    """Render one claimed segment, then join the job's parts if it was the last one."""
    # rendering loads PyAV and mediapipe: the web process imports this module (jobs.tasks).
    from rendering import recipe

    if not segments.segment_claim(segment_id=segment_id):
        return "not claimed"
    segment = (
        RenderSegment.objects.select_related(*(f"job__{r}" for r in _RELATED), "job")
        .filter(pk=segment_id)
        .first()
    )
    if segment is None:
        return "missing"
    job = segment.job
    parts = job.segments.count()
    part = {"part": segment.index + 1, "parts": parts}
    ids = lifecycle.log_ids(job.batch, job) | {"part": segment.index}
    final_name = segment_name(job, segment.index)
    stem = f"seg-{job.pk.hex}-{segment.index}"
    scratch = files.scratch_dir()
    for stale in scratch.glob(f".*{stem}*"):
        stale.unlink(missing_ok=True)  # a killed attempt's partial files on this host
    partial = scratch / f".{stem}.{segment.attempts}.partial.mp4"
    beat = Heartbeat(lambda: segments.segment_heartbeat(segment=segment), f"segment-{segment.pk}")
    progress = steps.Progress(lambda f: segments.segment_heartbeat(segment=segment, progress=f))
    log.info("segment started", extra=ids | {"attempt": segment.attempts})
    with steps.attempt(beat, partial) as inputs:
        try:
            prepared = steps.job_prepare(job, inputs)
            # Captions are drawn into each part as it renders (the join copies packets).
            captions = steps.captions(job, prepared)
            result = recipe.render(
                prepared,
                steps.engine_for(job.batch.engine),
                partial,
                frame_range=(segment.start_frame, segment.stop_frame),
                overlay=captions.draw if captions is not None else None,
                progress=progress,
                should_cancel=lambda: not (beat.alive and progress.alive),
            )
            files.put(partial, final_name, content_type="video/mp4")
            if not segments.segment_rendered(segment=segment, coverage=result.coverage):
                files.delete(final_name)
                return JobStatus.CANCELED
        except RenderCanceled:
            log.info("segment stopped: canceled", extra=ids)
            return JobStatus.CANCELED
        except RenderingError as exc:
            failure = JobLog()
            failure.failure(exc, code="part_failed", part=part["part"], parts=part["parts"])
            _fail(segment, exc.code, exc.params, failure.text(), message=exc.message)
            return JobStatus.FAILED
        except Exception:
            log.exception("segment crashed", extra=ids)
            failure = JobLog()
            failure.add("part_failed", error_code="segment_failed", error_params=part, **part)
            _fail(
                segment,
                "segment_failed",
                part,
                failure.text() + "\n" + traceback.format_exc(limit=3),
            )
            return JobStatus.FAILED
    log.info("segment rendered", extra=ids | {"seconds": round(result.seconds, 2)})
    return job_join(job_id=job.pk)


def _fail(
    segment: RenderSegment, code: str, params: dict[str, Any], lines: str, *, message: str = ""
) -> None:
    """Fail the segment (and its job) with the failure ``code``; ``lines``: the failure's log
    lines (codes, jobs.render.job_log), added to the job's log; ``message``: the library's English."""
    job = segment.job
    log_text = "\n".join(t for t in (job.log, lines) if t)
    segments.segment_fail(
        segment=segment, code=code, params=params, message=message, log_text=log_text
    )


def job_join(*, job_id: Any) -> str:
    """Join a job's rendered parts into its output, if this caller wins the join claim."""
    # rendering loads PyAV and mediapipe: the web process imports this module (jobs.tasks).
    from rendering import recipe

    if not segments.join_claim(job_id=job_id):
        return "not joined"
    job = RenderJob.objects.select_related(*_RELATED).get(pk=job_id)
    parts = list(job.segments.order_by("index"))
    ids = lifecycle.log_ids(job.batch, job)
    joblog = JobLog()
    on_step = steps.step_log(joblog, ids=ids)
    beat = Heartbeat(lambda: segments.join_heartbeat(job_id=job.pk), f"join-{job.pk}")
    final_name = output_upload_to(job, "")
    partial = files.scratch_dir() / f".join-{job.pk.hex}.joined.mp4"
    with steps.attempt(beat, partial) as inputs:
        try:
            prepared = steps.job_prepare(job, inputs)
            coverage = job.segments.aggregate(c=Avg("coverage"))["c"]
            result = recipe.join(
                prepared,
                [inputs.enter_context(files.local_copy(segment_name(job, p.index))) for p in parts],
                partial,
                engine=steps.engine_for(job.batch.engine),
                coverage=float(coverage or 1.0),
                on_step=on_step,
            )
            assert job.template is not None  # job_prepare raised otherwise
            face = template_face_hint(job.template)
            captions = steps.captions(job, prepared)
            if captions is not None:
                joblog.add("captions", position=job.batch.captions, size=job.batch.caption_size)
            report = recipe.measure(
                partial,
                prepared,
                result,
                face=face if face is not None else template_speaker_hint(job.template),
                skip_rows=captions.band if captions is not None else None,
                on_step=on_step,
            )
            outcome = steps.publish(
                job=job,
                video=partial,
                name=final_name,
                duration=result.duration,
                log_text="\n".join(t for t in (job.log, joblog.text()) if t),
                quality=report,
            )
            if outcome != JobStatus.SUCCEEDED:
                return outcome
            segments.join_done(job_id=job.pk)
            _remove_segment_files(job)
            return JobStatus.SUCCEEDED
        except RenderingError as exc:
            joblog.failure(exc, code="join_failed")
            _fail(parts[-1], exc.code, exc.params, joblog.text(), message=exc.message)
            return JobStatus.FAILED
        except Exception:
            log.exception("join crashed", extra=ids)
            joblog.add("join_failed", error_code="unexpected")
            _fail(parts[-1], "unexpected", {}, joblog.text() + "\n" + traceback.format_exc(limit=3))
            return JobStatus.FAILED
