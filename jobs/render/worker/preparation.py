"""The worker's preparation steps: a batch's audio analysed once before its jobs are queued,
and a template's face tracked once after upload. Both are cached by content hash.

PyAV, mediapipe and torch are imported inside the functions: the web process imports this
module (through jobs.tasks) and must not load them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.library import face_checks
from jobs.library.uploads import media_limits
from jobs.models import Batch, FaceStatus, JobStatus, Template
from jobs.render import leases, lifecycle
from jobs.render.heartbeats import beating
from jobs.render.queue import enqueue_on_commit, render_enqueue_on_commit
from jobs.render.worker.engines import analysis_options, mouth_library_wanted
from jobs.storage import files
from jobs.user_errors import stored_english
from jobs.words import transcripts
from rendering.errors import RenderingError

log = logging.getLogger("heygem.jobs")


PREPARE_TASK = "jobs.tasks.batch_prepare"


def _prepare_send(batch: Batch) -> None:
    enqueue_on_commit(PREPARE_TASK, str(batch.pk), group=str(batch.pk))


def _prepare_give_up(batch: Batch, now: datetime) -> bool:
    """A preparation that killed its worker RENDER_MAX_ATTEMPTS times (a huge or hostile
    audio): its queued jobs fail with a sentence rather than kill workers for ever."""
    with transaction.atomic():
        if not Batch.objects.filter(
            pk=batch.pk,
            prepare_queued_at=batch.prepare_queued_at,
            prepare_heartbeat_at=batch.prepare_heartbeat_at,
        ).update(prepare_queued_at=None, prepare_heartbeat_at=None):
            return False
        attempts = batch.prepare_attempts
        lifecycle.jobs_fail_queued(batch, code="preparation_lost", params={"attempts": attempts})
    return True


# A batch's preparation (audio analysis and the words, then its render tasks): wanted while
# prepare_queued_at is set, held while prepare_heartbeat_at is. Any preparation task may
# run when nobody live holds it (a batch never asked for runs too, as before the lease).
PREPARE_LEASE = leases.Lease(
    name="preparation",
    rows=lambda: Batch.objects.all(),
    heartbeat="prepare_heartbeat_at",
    attempts="prepare_attempts",
    queued_at="prepare_queued_at",
    waiting=Q(prepare_queued_at__isnull=False, prepare_heartbeat_at__isnull=True),
    held=Q(prepare_heartbeat_at__isnull=False),
    claimable=lambda before: (
        Q(prepare_heartbeat_at__isnull=True) | Q(prepare_heartbeat_at__lt=before)
    ),
    send=_prepare_send,
    give_up=_prepare_give_up,
)


def batch_prepare_send(*, batch_id: Any) -> None:
    """Ask for the batch's preparation (a new request: its attempts start again) and send its
    task once the current transaction commits. Until it has run, the watchdog watches the
    preparation, not the batch's queued jobs: their tasks come from it."""
    Batch.objects.filter(pk=batch_id).update(prepare_queued_at=timezone.now(), prepare_attempts=0)
    enqueue_on_commit(PREPARE_TASK, str(batch_id), group=str(batch_id))


def batch_prepare(*, batch_id: Any) -> int:
    """Analyse and transcribe the batch's audio once (both cached by content hash), then
    queue each job's render.

    1. Claim the preparation (``PREPARE_LEASE``): a twin task finds it held and does nothing.
    2. Analyse and transcribe under its heartbeat: a worker killed meanwhile stops the
       heartbeat, and the watchdog sends the preparation again (the words are not lost).
    3. Send the render tasks and let go of the lease in one transaction; a new request that
       came meanwhile (a retry) is sent again at once.

    Returns how many render tasks were queued. Safe to run twice: jobs are claimed later.
    """
    now = timezone.now()
    request = Batch.objects.filter(pk=batch_id).values_list("prepare_queued_at", flat=True)
    if not request.exists():
        return 0
    wanted = request.first()
    if not leases.claim(PREPARE_LEASE, batch_id, now=now, where=Q(prepare_queued_at=wanted)):
        log.info("batch preparation not claimed", extra={"batch_id": str(batch_id)})
        return 0
    batch = Batch.objects.select_related("audio", "owner").get(pk=batch_id)
    sent = 0
    try:
        sent = _batch_prepare_claimed(batch)
    finally:
        _prepare_release(batch_id=batch.pk, request=wanted)
    return sent


def _batch_prepare_claimed(batch: Batch) -> int:
    job_ids = [
        str(pk) for pk in batch.jobs.filter(status=JobStatus.QUEUED).values_list("pk", flat=True)
    ]
    if not job_ids:
        return 0
    with (
        beating(lambda: _prepare_beat(batch.pk), f"prepare-{batch.pk}"),
        files.local_copy(batch.audio.file.name) as audio_path,
    ):
        if not _prepare_audio(batch, audio_path):
            return 0
    with transaction.atomic():
        lifecycle.jobs_vouch_queued(batch_id=batch.pk)
        for job_id in job_ids:
            render_enqueue_on_commit(job_id=job_id, batch_id=batch.pk, engine=batch.engine)
    log.info("batch queued", extra=lifecycle.log_ids(batch) | {"jobs": len(job_ids)})
    return len(job_ids)


def _prepare_beat(batch_id: Any) -> bool:
    """The preparation is alive; its queued jobs are vouched for too (their tasks come
    from it), so the watchdog sends none of them meanwhile."""
    lifecycle.jobs_vouch_queued(batch_id=batch_id)
    return leases.beat(PREPARE_LEASE, batch_id)


def _prepare_release(*, batch_id: Any, request: datetime | None) -> None:
    """Let go of the preparation: done, unless a new request came while it ran (a retry of
    another job), which is then sent at once."""
    with transaction.atomic():
        if Batch.objects.filter(pk=batch_id, prepare_queued_at=request).update(
            prepare_queued_at=None, prepare_heartbeat_at=None
        ):
            return
        if Batch.objects.filter(pk=batch_id, prepare_queued_at__isnull=False).update(
            prepare_heartbeat_at=None, prepare_attempts=0
        ):
            enqueue_on_commit(PREPARE_TASK, str(batch_id), group=str(batch_id))


def _prepare_audio(batch: Batch, audio_path: Path) -> bool:
    """Analyse (and transcribe) the batch's audio; False when it cannot be analysed, after
    failing the batch's queued jobs with the reason."""
    # rendering.audio loads numpy and PyAV: the web process imports this module (jobs.tasks) and must not.
    from rendering import audio as audio_analysis

    try:
        audio_analysis.analyse(
            audio_path,
            cache_dir=Path(settings.RENDER_CACHE_DIR),
            **analysis_options(batch.engine),
        )
    except RenderingError as exc:
        lifecycle.jobs_fail_queued(
            batch, code="audio_analysis", params={"code": exc.code} | exc.params
        )
        log.warning("audio analysis failed", extra=lifecycle.log_ids(batch) | {"reason": str(exc)})
        return False
    # The words: once per audio content (cached); without a model the videos still render.
    transcripts.batch_transcribe(batch=batch, audio_path=audio_path)
    return True


def batch_words_ensure(*, batch: Batch, audio_path: Path) -> bool:
    """Make the batch's words now if they were asked for and never made (its preparation
    died after sending the renders, or a render task outlived it): a render never goes out
    without the captions and subtitles the batch asked for. True when they were made here."""
    if batch.transcript is not None or batch.transcript_status or transcripts.transcriber() is None:
        return False
    transcripts.batch_transcribe(batch=batch, audio_path=audio_path)
    log.warning(
        "batch words made by a render: its preparation left none", extra=lifecycle.log_ids(batch)
    )
    return True


def template_analyse(*, template_id: Any) -> str:
    """Find who a template shows, track the face that speaks, and learn its mouths.

    1. List the faces (``rendering.faces.list_faces``) once per template, best default
       speaker first, and keep a small JPEG of each beside the template's own thumbnail.
       A listing that exists is kept, so the user's choice (an index) stays meaningful.
    2. Track the face that speaks (the user's choice, else the default), cached by content
       hash and face, exactly as the worker will ask for it.
    3. Build the template's mouth library (cached), so the first render does not pay for it.
    4. Record the outcome on the template.

    The check is claimed first (``jobs.library.face_checks``): a spare task, or one sent while
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
    # rendering.faces loads numpy, OpenCV and mediapipe: not in the web process (jobs.tasks).
    from rendering import faces

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
    if mouth_library_wanted():
        _warm_mouth_library(template, path, track, cache_dir)
    return FaceStatus.READY


def _warm_mouth_library(template: Template, path: Path, track: Any, cache_dir: Path) -> None:
    """Analyse the template's own mouths now (cached); a failure here only costs the render
    the time to do it again, so it is logged, never recorded as a face problem."""
    # rendering.mouths loads OpenCV and numpy: not in the web process (jobs.tasks).
    from rendering import mouths

    try:
        mouths.analyse(path, track, cache_dir=cache_dir)
    except Exception:
        log.exception("mouth library not prepared", extra={"template_id": str(template.pk)})


def template_face_hint(template: Template) -> Any:
    """The ``rendering.faces.FaceHint`` of the face the user chose, or None for the default.

    Preparation and the worker both ask through here, so they look up the same cached track.
    """
    # rendering.faces loads numpy, OpenCV and mediapipe: not in the web process (jobs.tasks).
    from rendering.faces import FaceHint

    faces = template.face_list
    choice = template.face_choice
    if choice is None or not 0 <= choice < len(faces):
        return None
    return FaceHint.from_dict(faces[choice])


def template_speaker_hint(template: Template) -> Any:
    """Where the face that speaks is (chosen or default) when the template shows several
    people, else None: what the quality measure follows in the output."""
    # rendering.faces loads numpy, OpenCV and mediapipe: not in the web process (jobs.tasks).
    from rendering.faces import FaceHint

    faces = template.face_list
    index = template.speaker_index
    if len(faces) < 2 or index is None:
        return None
    return FaceHint.from_dict(faces[index])


def template_faces_record(*, template: Template, found: list[Any]) -> Template:
    """Keep the faces a template shows (``FaceCandidate`` list): a JPEG of each beside the
    template file, their descriptions on the row. Returns the refreshed template."""
    # OpenCV: not in the web process (jobs.tasks imports this module).
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
    """Record whether a template's face could be tracked (``error`` None: it could), and the
    face check's advice (``note``, a rendering.faces.track_notes code; None leaves it as it
    is). A failure is its ``code`` and ``params``; ``face_error`` keeps the catalogue's English
    (the library's own ``error`` only for a code the catalogue does not know)."""
    if error is None:
        Template.objects.filter(pk=template_id).exclude(face_status=FaceStatus.READY).update(
            face_status=FaceStatus.READY, face_error="", face_error_code="", face_error_params={}
        )
        if note is not None:
            Template.objects.filter(pk=template_id).update(face_note=note)
    else:
        Template.objects.filter(pk=template_id).update(
            face_status=FaceStatus.FAILED,
            face_error=stored_english(code, params, error),
            face_error_code=code,
            face_error_params=params or {},
        )
