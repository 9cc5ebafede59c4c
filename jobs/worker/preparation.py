"""The worker's preparation steps: a batch's audio analysed once before its jobs are queued,
and a template's face tracked once after upload. Both are cached by content hash.

PyAV, mediapipe and torch are imported inside the functions: the web process imports this
module (through jobs.tasks) and must not load them.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from jobs import face_checks, lifecycle, transcripts
from jobs.heartbeats import beating
from jobs.models import Batch, FaceStatus, JobStatus, Template
from jobs.queue import render_enqueue_on_commit
from jobs.storage import files
from jobs.uploads import media_limits
from jobs.worker.engines import analysis_options, engines_offered

log = logging.getLogger("heygem.jobs")


def batch_prepare(*, batch_id: Any) -> int:
    """Analyse and transcribe the batch's audio once (both cached by content hash), then
    queue each job's render.

    Returns how many render tasks were queued. Safe to run twice: jobs are claimed later.
    """
    batch = Batch.objects.select_related("audio", "owner").filter(pk=batch_id).first()
    if batch is None:
        return 0
    job_ids = [
        str(pk) for pk in batch.jobs.filter(status=JobStatus.QUEUED).values_list("pk", flat=True)
    ]
    if not job_ids:
        return 0
    with files.local_copy(batch.audio.file.name) as audio_path:
        if not _prepare_audio(batch, audio_path):
            return 0
    lifecycle.jobs_vouch_queued(batch_id=batch.pk)
    for job_id in job_ids:
        render_enqueue_on_commit(job_id=job_id, batch_id=batch.pk, engine=batch.engine)
    log.info("batch queued", extra=lifecycle.log_ids(batch) | {"jobs": len(job_ids)})
    return len(job_ids)


def _prepare_audio(batch: Batch, audio_path: Path) -> bool:
    """Analyse (and transcribe) the batch's audio; False when it cannot be analysed, after
    failing the batch's queued jobs with the reason."""
    from rendering import audio as audio_analysis
    from rendering.errors import RenderingError

    try:
        with _vouching(batch.pk):  # a long analysis is not a lost task
            audio_analysis.analyse(
                audio_path,
                cache_dir=Path(settings.RENDER_CACHE_DIR),
                **analysis_options(batch.engine),
            )
    except RenderingError as exc:
        message = f"The audio could not be analysed: {exc.message}"
        lifecycle.jobs_fail_queued(
            batch, message, code="audio_analysis", params={"code": exc.code} | exc.params
        )
        log.warning("audio analysis failed", extra=lifecycle.log_ids(batch) | {"reason": str(exc)})
        return False
    # The words: once per audio content (cached); without a model the videos still render.
    with _vouching(batch.pk):  # transcribing a long audio is not a lost task either
        transcripts.batch_transcribe(batch=batch, audio_path=audio_path)
    return True


def _vouching(batch_id: Any) -> AbstractContextManager[Any]:
    """While the body runs, keep the batch's queued jobs vouched for (as a running job's
    heartbeat does), so the watchdog does not send their tasks again meanwhile."""
    return beating(lambda: lifecycle.jobs_vouch_queued(batch_id=batch_id), f"prepare-{batch_id}")


def template_analyse(*, template_id: Any) -> str:
    """Find who a template shows, track the face that speaks, and learn its mouths.

    1. List the faces (``rendering.faces.list_faces``) once per template, best default
       speaker first, and keep a small JPEG of each beside the template's own thumbnail.
       A listing that exists is kept, so the user's choice (an index) stays meaningful.
    2. Track the face that speaks (the user's choice, else the default), cached by content
       hash and face, exactly as the worker will ask for it.
    3. Build the template's mouth library (cached), so the first render does not pay for it.
    4. Record the outcome on the template.

    The check is claimed first (``jobs.face_checks``): a spare task, or one sent while
    another worker runs the check, does nothing; a heartbeat vouches for a long check.
    """

    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        return "missing"
    request = face_checks.template_check_claim(template_id=template.pk)
    if request is None:
        return "not claimed"
    with (
        face_checks.template_check_heartbeat(template.pk),
        files.local_copy(template.file.name) as path,
    ):
        outcome = _template_analyse_file(template, path)
    face_checks.template_check_finish(template_id=template.pk, request=request)
    return outcome


def _template_analyse_file(template: Template, path: Path) -> str:
    from rendering import faces
    from rendering.errors import RenderingError

    limits = media_limits(max_duration=settings.MAX_TEMPLATE_SECONDS)
    cache_dir = Path(settings.RENDER_CACHE_DIR)
    try:
        if template.faces is None:
            template = template_faces_record(
                template=template, found=faces.list_faces(path, limits=limits)
            )
        track = faces.track(
            path, cache_dir=cache_dir, limits=limits, face=template_face_hint(template)
        )
        # The render's own test (rendering.faces.check_usable): a template it would refuse
        # is refused here, with its sentence, and cannot join a batch.
        faces.check_usable(track)
    except RenderingError as exc:
        template_face_record(
            template_id=template.pk, error=exc.message, code=exc.code, params=exc.params
        )
        log.info(
            "template has no usable face",
            extra={"template_id": str(template.pk), "reason": str(exc)},
        )
        return FaceStatus.FAILED
    template_face_record(
        template_id=template.pk, error=None, note=",".join(faces.track_notes(track))
    )
    if "classic" in engines_offered():
        _warm_mouth_library(template, path, track, cache_dir)
    return FaceStatus.READY


def _warm_mouth_library(template: Template, path: Path, track: Any, cache_dir: Path) -> None:
    """Analyse the template's own mouths now (cached); a failure here only costs the render
    the time to do it again, so it is logged, never recorded as a face problem."""
    from rendering import mouths

    try:
        mouths.analyse(path, track, cache_dir=cache_dir)
    except Exception:
        log.exception("mouth library not prepared", extra={"template_id": str(template.pk)})


def template_face_hint(template: Template) -> Any:
    """The ``rendering.faces.FaceHint`` of the face the user chose, or None for the default.

    Preparation and the worker both ask through here, so they look up the same cached track.
    """
    from rendering.faces import FaceHint

    faces = template.face_list
    choice = template.face_choice
    if choice is None or not 0 <= choice < len(faces):
        return None
    return FaceHint.from_dict(faces[choice])


def template_speaker_hint(template: Template) -> Any:
    """Where the face that speaks is (chosen or default) when the template shows several
    people, else None: what the quality measure follows in the output."""
    from rendering.faces import FaceHint

    faces = template.face_list
    index = template.speaker_index
    if len(faces) < 2 or index is None:
        return None
    return FaceHint.from_dict(faces[index])


def template_faces_record(*, template: Template, found: list[Any]) -> Template:
    """Keep the faces a template shows (``FaceCandidate`` list): a JPEG of each beside the
    template file, their descriptions on the row. Returns the refreshed template."""
    import cv2

    stem = PurePosixPath(str(template.file.name)).with_suffix("")
    listed: list[dict[str, Any]] = []
    for number, candidate in enumerate(found, start=1):
        name = f"{stem}.face{number}.jpg"
        ok, jpeg = cv2.imencode(
            ".jpg",
            cv2.cvtColor(candidate.thumbnail, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 85],
        )
        if ok:
            files.put_bytes(jpeg.tobytes(), name, content_type="image/jpeg")
        listed.append(candidate.to_dict() | {"thumbnail": name if ok else ""})
    Template.objects.filter(pk=template.pk).update(faces=listed)
    template.faces = listed
    log.info("template faces listed", extra={"template_id": str(template.pk), "faces": len(listed)})
    return template


def template_face_record(
    *,
    template_id: Any,
    error: str | None,
    code: str = "no_face",
    params: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    """Record whether a template's face could be tracked (None: it could), and the face
    check's advice (``note``, a rendering.faces.track_notes code; None leaves it as it is)."""
    if error is None:
        Template.objects.filter(pk=template_id).exclude(face_status=FaceStatus.READY).update(
            face_status=FaceStatus.READY, face_error="", face_error_code="", face_error_params={}
        )
        if note is not None:
            Template.objects.filter(pk=template_id).update(face_note=note)
    else:
        Template.objects.filter(pk=template_id).update(
            face_status=FaceStatus.FAILED,
            face_error=error,
            face_error_code=code,
            face_error_params=params or {},
        )
