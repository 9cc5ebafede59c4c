"""The worker's preparation steps: a batch's audio analysed once before its jobs are queued,
and a template's face tracked once after upload. Both are cached by content hash.

PyAV, mediapipe and torch are imported inside the functions: the web process imports this
module (through jobs.tasks) and must not load them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings

from jobs import lifecycle
from jobs.models import Batch, FaceStatus, JobStatus, Template
from jobs.queue import enqueue_on_commit
from jobs.storage.paths import media_path
from jobs.uploads import media_limits
from jobs.worker.engines import analysis_options

log = logging.getLogger("heygem.jobs")


def batch_prepare(*, batch_id: Any) -> int:
    """Analyse the batch's audio once (cached by content hash), then queue each job's render.

    Returns how many render tasks were queued. Safe to run twice: jobs are claimed later.
    """
    from rendering import audio as audio_analysis
    from rendering.errors import RenderingError

    batch = Batch.objects.select_related("audio", "owner").filter(pk=batch_id).first()
    if batch is None:
        return 0
    job_ids = [
        str(pk) for pk in batch.jobs.filter(status=JobStatus.QUEUED).values_list("pk", flat=True)
    ]
    if not job_ids:
        return 0
    try:
        audio_analysis.analyse(
            media_path(batch.audio.file.name),
            cache_dir=Path(settings.RENDER_CACHE_DIR),
            **analysis_options(batch.engine),
        )
    except RenderingError as exc:
        message = f"The audio could not be analysed: {exc.message}"
        lifecycle.jobs_fail_queued(
            batch, message, code="audio_analysis", params={"code": exc.code} | exc.params
        )
        log.warning("audio analysis failed", extra=lifecycle.log_ids(batch) | {"reason": str(exc)})
        return 0
    for job_id in job_ids:
        enqueue_on_commit("jobs.tasks.job_render", job_id, group=str(batch.pk))
    log.info("batch queued", extra=lifecycle.log_ids(batch) | {"jobs": len(job_ids)})
    return len(job_ids)


def template_analyse(*, template_id: Any) -> str:
    """Track the face in a template once (cached by content hash) and record the outcome."""
    from rendering import faces
    from rendering.errors import RenderingError

    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        return "missing"
    try:
        faces.track(
            media_path(template.file.name),
            cache_dir=Path(settings.RENDER_CACHE_DIR),
            limits=media_limits(max_duration=settings.MAX_TEMPLATE_SECONDS),
        )
    except RenderingError as exc:
        template_face_record(
            template_id=template.pk, error=exc.message, code=exc.code, params=exc.params
        )
        log.info(
            "template has no usable face",
            extra={"template_id": str(template.pk), "reason": str(exc)},
        )
        return FaceStatus.FAILED
    template_face_record(template_id=template.pk, error=None)
    return FaceStatus.READY


def template_face_record(
    *,
    template_id: Any,
    error: str | None,
    code: str = "no_face",
    params: dict[str, Any] | None = None,
) -> None:
    """Record whether a template's face could be tracked (None: it could)."""
    if error is None:
        Template.objects.filter(pk=template_id).exclude(face_status=FaceStatus.READY).update(
            face_status=FaceStatus.READY, face_error="", face_error_code="", face_error_params={}
        )
    else:
        Template.objects.filter(pk=template_id).update(
            face_status=FaceStatus.FAILED,
            face_error=error,
            face_error_code=code,
            face_error_params=params or {},
        )
