"""The worker's side of the render recipe (``rendering.recipe``), shared by a whole render
(``jobs.render.worker.runner``) and by a long video's parts and their join (``jobs.render.worker.segment_render``):
Django's part only. A job's working copies and the options its settings give, its engine
(built once per process), the progress throttle, the job log the recipe's steps are written
to, and publishing the result.

``rendering`` (PyAV, mediapipe, torch) is imported inside the functions: the web process
imports this module through ``jobs.tasks`` and must not load them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections

from jobs.library.uploads import media_limits
from jobs.models import JobStatus, RenderJob
from jobs.render import lifecycle
from jobs.render.heartbeats import Heartbeat
from jobs.render.job_log import JobLog
from jobs.render.worker.engines import analysis_options, engine_options
from jobs.render.worker.preparation import batch_words_ensure, template_face_hint
from jobs.storage import files
from jobs.user_errors import english
from jobs.words import transcripts
from rendering.cache import file_sha256
from rendering.errors import RenderingError

if TYPE_CHECKING:
    from rendering.engines import Engine
    from rendering.recipe import Prepared, StepReport

log = logging.getLogger("heygem.jobs")


def engine_for(name: str) -> Engine:
    """The engine for ``name`` built from the current settings (see :func:`built_engine`)."""
    return built_engine(name, tuple(sorted(engine_options(name).items())))


@cache
def built_engine(name: str, options: tuple[tuple[str, Any], ...]) -> Engine:
    # One engine per process, name and options: neural weights load once per worker, not
    # per job; a changed setting (a test's own cache folder) builds a new one.
    from rendering.engines import get_engine

    return get_engine(name, **dict(options))


class Progress:
    """The engine's progress callback: ``write(fraction)`` at most every
    JOB_PROGRESS_INTERVAL (and at the end); ``alive`` turns False once a write says the
    work is no longer ours (canceled, or taken back by the watchdog)."""

    def __init__(self, write: Callable[[float], bool]) -> None:
        self.write = write
        self.last = 0.0
        self.alive = True

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self.last >= settings.JOB_PROGRESS_INTERVAL or fraction >= 1.0:
            self.last = now
            self.alive = self.write(fraction) and self.alive


def step_log(
    joblog: JobLog, *, ids: dict[str, Any], after_audio: dict[str, Any] | None = None
) -> StepReport:
    """The recipe's ``on_step``: each step becomes a line of the job's log (codes, worded
    when shown); the quality steps also go to the run log with the job's ids.
    ``after_audio``: the ``face_chosen`` line's parameters, said once the audio is ready."""

    def on_step(code: str, **params: Any) -> None:
        joblog.add(code, **params)
        if code == "audio_ready" and after_audio is not None:
            joblog.add("face_chosen", **after_audio)
        elif code == "quality":
            log.info("job quality measured", extra=ids | params)
        elif code == "quality_not_measured":
            log.warning("quality not measured", extra=ids | params)

    return on_step


def _quiet(code: str, **params: Any) -> None:
    """For a part or a join, whose preparation the job's log said already."""


@contextmanager
def attempt(heartbeat: Heartbeat, partial: Path) -> Iterator[ExitStack]:
    """One render attempt's working copies (the stack ``job_prepare`` adds them to), its
    heartbeat (started here, so nothing between making it and this block can leave it
    beating), and its clean-up however it ends (a result, a failure, a cancel, a crash): the
    heartbeat ends, the partial output goes, the working copies close, and this thread's
    database connection is let go if it has gone stale."""
    inputs = ExitStack()
    heartbeat.start()
    try:
        yield inputs
    finally:
        heartbeat.end()
        partial.unlink(missing_ok=True)
        inputs.close()
        close_old_connections()


def job_prepare(
    job: RenderJob,
    inputs: ExitStack,
    *,
    on_step: StepReport = _quiet,
    make_words: bool = False,
    require_usable: bool = False,
) -> Prepared:
    """The recipe's ``prepare`` for this job: working copies of its audio and template on
    this host (released with ``inputs``), the batch's stored words attached, the chosen face
    tracked within the template limits. ``make_words``: make the batch's words first if its
    preparation left none (``preparation.batch_words_ensure``)."""
    # rendering.recipe loads the face tracker (numpy, OpenCV, mediapipe): not in the web process.
    from rendering import recipe

    template = job.template
    if template is None:
        raise RenderingError(english("template_deleted"), code="template_deleted")
    batch = job.batch
    audio_path = inputs.enter_context(files.local_copy(batch.audio.file.name))
    template_path = inputs.enter_context(files.local_copy(template.file.name))
    if make_words and batch_words_ensure(batch=batch, audio_path=audio_path):
        on_step("transcript_made")
    return recipe.prepare(
        audio_path,
        template_path,
        cache_dir=Path(settings.RENDER_CACHE_DIR),
        analysis=analysis_options(batch.engine),
        words=lambda features: transcripts.features_with_words(features, batch),
        face=template_face_hint(template),
        limits=media_limits(max_duration=settings.MAX_TEMPLATE_SECONDS),
        require_usable=require_usable,
        on_step=on_step,
    )


def captions(job: RenderJob, prepared: Prepared) -> transcripts.CaptionOverlay | None:
    """The batch's captions for this template's frames (drawn as the engine writes them:
    one encode), or None when the batch burns none."""
    track = prepared.track
    return transcripts.caption_overlay(
        batch=job.batch, width=track.width, height=track.height, fps=track.fps
    )


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
