"""Render a long job as segments: the services behind the ``segment_render`` and
``job_join`` tasks, and the runner's branch point (:func:`job_split_if_long`).

1. The job's own task (``jobs.worker.runner``) prepares the inputs as for any render, then
   splits a long output into frame ranges (``jobs.segments.segments_plan``) and sends one
   ``segment_render`` task per range; the job stays ``running``.
2. Each segment's task claims it, renders its frames silently into its own file (the
   engine plans the whole video, so a segment holds exactly the frames the whole render
   would), with a heartbeat, then marks it rendered.
3. The task that renders the last part claims the join (exactly once), copies the parts'
   frames into one stream and muxes the original sound once over it
   (``rendering.media.join_segments``; captions were drawn into the parts), measures, and
   records success as a whole render does; the parts' files are removed.

Every file name of a segment comes from ``jobs.models.segment_name`` / ``segment_folder``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Avg

from jobs import lifecycle, segments, transcripts
from jobs.heartbeats import Heartbeat
from jobs.models import (
    JobStatus,
    RenderJob,
    RenderSegment,
    output_upload_to,
    segment_folder,
    segment_name,
)
from jobs.storage import files
from jobs.uploads import media_limits
from jobs.worker.engines import analysis_options
from jobs.worker.preparation import template_face_hint, template_speaker_hint
from jobs.worker.runner import GENERIC_FAILURE, _engine, _JobLog, _measure, publish

log = logging.getLogger("heygem.jobs")

_RELATED = ("batch__audio", "batch__owner", "template")


def _remove_segment_files(job: RenderJob) -> None:
    files.delete_prefix(segment_folder(job))
    # the batch's "segments" folder, once no job uses it
    files.remove_empty_folders(str(PurePosixPath(segment_folder(job)).parent))


def _inputs(job: RenderJob, inputs: ExitStack) -> tuple[Any, Any, Path, Path]:
    """The job's audio features, face track, template and audio paths (all cached by then;
    the paths are working copies on this host, released with ``inputs``)."""
    from rendering import audio as audio_analysis
    from rendering import faces
    from rendering.errors import RenderingError

    if job.template is None:
        raise RenderingError(
            "The template video was deleted before this job ran.", code="template_deleted"
        )
    cache_dir = Path(settings.RENDER_CACHE_DIR)
    audio_path = inputs.enter_context(files.local_copy(job.batch.audio.file.name))
    features = audio_analysis.analyse(
        audio_path, cache_dir=cache_dir, **analysis_options(job.batch.engine)
    )
    from jobs.transcripts import features_with_words

    features = features_with_words(features, job.batch)
    template_path = inputs.enter_context(files.local_copy(job.template.file.name))
    track = faces.track(
        template_path,
        cache_dir=cache_dir,
        limits=media_limits(max_duration=settings.MAX_TEMPLATE_SECONDS),
        face=template_face_hint(job.template),
    )
    return features, track, template_path, audio_path


def job_split_if_long(*, job: RenderJob, features: Any, track: Any, joblog: _JobLog) -> bool:
    """The runner's branch point: split a long render into segment tasks (True), or leave
    it to render whole (False)."""
    from rendering.engines import output_frame_count

    n_frames = output_frame_count(features.duration, track.fps)
    plan = segments.segments_plan(n_frames=n_frames, fps=track.fps)
    if not plan:
        return False
    _remove_segment_files(job)  # an earlier attempt's parts
    joblog.add("split", parts=len(plan), frames=int(n_frames))
    RenderJob.objects.filter(pk=job.pk).update(log=joblog.text())
    segments.job_split(job=job, plan=plan)
    return True


def segment_run(*, segment_id: Any) -> str:
    """Render one claimed segment, then join the job's parts if it was the last one."""
    from rendering.errors import RenderCanceled, RenderingError

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
    inputs = ExitStack()
    beat = Heartbeat(lambda: segments.segment_heartbeat(segment=segment), f"segment-{segment.pk}")
    beat.start()
    throttle = _Throttle(lambda f: segments.segment_heartbeat(segment=segment, progress=f))
    log.info("segment started", extra=ids | {"attempt": segment.attempts})
    try:
        features, track, template_path, audio_path = _inputs(job, inputs)
        # Captions are drawn into each part as it renders (the join copies packets).
        captions = transcripts.caption_overlay(
            batch=job.batch, width=track.width, height=track.height, fps=track.fps
        )
        result = _engine(job.batch.engine).render(
            template=template_path,
            track=track,
            audio=features,
            audio_path=audio_path,
            out_path=partial,
            progress=throttle,
            should_cancel=lambda: not (beat.alive and throttle.alive),
            frame_range=(segment.start_frame, segment.stop_frame),
            overlay=captions.draw if captions is not None else None,
        )
        files.put(partial, final_name, content_type="video/mp4")
        if not segments.segment_rendered(segment=segment, coverage=result.coverage):
            files.delete(final_name)
            return JobStatus.CANCELED
    except RenderCanceled:
        log.info("segment stopped: canceled", extra=ids)
        return JobStatus.CANCELED
    except RenderingError as exc:
        failure = _JobLog()
        failure.failure(exc, code="part_failed", part=part["part"], parts=part["parts"])
        _fail(segment, exc.message, exc.code, exc.params, failure.text())
        return JobStatus.FAILED
    except Exception:
        log.exception("segment crashed", extra=ids)
        message = segments.SEGMENT_FAILED % part
        failure = _JobLog()
        failure.add(
            "part_failed", error_code="segment_failed", error_params=part, message=message, **part
        )
        _fail(
            segment,
            message,
            "segment_failed",
            part,
            failure.text() + "\n" + traceback.format_exc(limit=3),
        )
        return JobStatus.FAILED
    finally:
        beat.end()
        partial.unlink(missing_ok=True)
        inputs.close()
        close_old_connections()
    log.info("segment rendered", extra=ids | {"seconds": round(result.seconds, 2)})
    return job_join(job_id=job.pk)


class _Throttle:
    """The engine's progress callback: writes at most every JOB_PROGRESS_INTERVAL."""

    def __init__(self, write: Callable[[float], bool]) -> None:
        self.write = write
        self.last = 0.0
        self.alive = True

    def __call__(self, fraction: float) -> None:
        import time

        now = time.monotonic()
        if now - self.last >= settings.JOB_PROGRESS_INTERVAL or fraction >= 1.0:
            self.last = now
            self.alive = self.write(fraction) and self.alive


def _fail(
    segment: RenderSegment, message: str, code: str, params: dict[str, Any], lines: str
) -> None:
    """``lines``: the failure's log lines (codes, jobs.job_log), added to the job's log."""
    job = segment.job
    log_text = "\n".join(t for t in (job.log, lines) if t)
    segments.segment_fail(
        segment=segment, message=message, code=code, params=params, log_text=log_text
    )


def job_join(*, job_id: Any) -> str:
    """Join a job's rendered parts into its output, if this caller wins the join claim."""
    from rendering.engines import RenderResult
    from rendering.errors import RenderingError
    from rendering.media import join_segments, read_audio_as_uploaded

    if not segments.join_claim(job_id=job_id):
        return "not joined"
    job = RenderJob.objects.select_related(*_RELATED).get(pk=job_id)
    parts = list(job.segments.order_by("index"))
    ids = lifecycle.log_ids(job.batch, job)
    joblog = _JobLog()
    beat = Heartbeat(lambda: segments.join_heartbeat(job_id=job.pk), f"join-{job.pk}")
    beat.start()
    final_name = output_upload_to(job, "")
    partial = files.scratch_dir() / f".join-{job.pk.hex}.joined.mp4"
    inputs = ExitStack()
    try:
        features, track, template_path, audio_path = _inputs(job, inputs)
        engine = _engine(job.batch.engine)
        samples, rate = read_audio_as_uploaded(audio_path)
        joined = join_segments(
            [inputs.enter_context(files.local_copy(segment_name(job, p.index))) for p in parts],
            partial,
            fps=track.fps,
            audio=samples,
            audio_rate=rate,
            crf=getattr(engine, "crf", 18),
            preset=getattr(engine, "preset", "veryfast"),
        )
        joblog.add(
            "joined_reencoded" if joined.reencoded else "joined",
            parts=len(parts),
            frames=int(joined.frames),
        )
        coverage = job.segments.aggregate(c=Avg("coverage"))["c"]
        result = RenderResult(
            partial, joined.frames, joined.duration, joined.seconds, float(coverage or 1.0)
        )
        assert job.template is not None  # _inputs raised otherwise
        face = template_face_hint(job.template) or template_speaker_hint(job.template)
        captions = transcripts.caption_overlay(
            batch=job.batch, width=track.width, height=track.height, fps=track.fps
        )
        if captions is not None:
            joblog.add("captions", position=job.batch.captions, size=job.batch.caption_size)
        report = _measure(
            partial,
            features,
            template_path,
            track,
            result,
            face,
            joblog=joblog,
            ids=ids,
            skip_rows=captions.band if captions is not None else None,
        )
        outcome = publish(
            job=job,
            video=partial,
            name=final_name,
            duration=joined.duration,
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
        _fail(parts[-1], exc.message, exc.code, exc.params, joblog.text())
        return JobStatus.FAILED
    except Exception:
        log.exception("join crashed", extra=ids)
        joblog.add("join_failed", error_code="unexpected", message=GENERIC_FAILURE)
        _fail(
            parts[-1],
            GENERIC_FAILURE,
            "unexpected",
            {},
            joblog.text() + "\n" + traceback.format_exc(limit=3),
        )
        return JobStatus.FAILED
    finally:
        beat.end()
        partial.unlink(missing_ok=True)
        inputs.close()
        close_old_connections()
