"""Writes to batches and jobs, and the deletions of batches, jobs, templates and audio (a
user's whole data: jobs.services.accounts).

Every state change happens here, inside a transaction; tasks are enqueued on commit with ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from accounts.services import user_lock
from heygem_site.timezones import user_local_now
from jobs.models import (
    ACTIVE_STATUSES,
    AudioClip,
    Batch,
    FaceStatus,
    JobStatus,
    RenderJob,
    Template,
)
from jobs.names import clean_text_name
from jobs.render import lifecycle
from jobs.render.worker import preparation
from jobs.render.worker.engines import engine_problem, engines_offered
from jobs.storage import deletion, usage
from jobs.user_errors import retry_blocked_reason
from jobs.words import transcripts

log = logging.getLogger("heygem.jobs")


# --- Batches --------------------------------------------------------------------------------


def default_batch_name(owner: User | None = None) -> str:
    """``batch_20261207_0839``: now on the owner's clock (their browser's time zone)."""
    return user_local_now(owner).strftime("batch_%Y%m%d_%H%M")


def batch_create(
    *,
    owner: User,
    audio_id: Any,
    template_ids: Sequence[Any],
    name: str = "",
    engine: str = "",
    language: str = "auto",
    script: str = "",
    captions: str = "",
    caption_size: str = "medium",
) -> Batch:
    """Create a batch and one render job per template, all or nothing, and queue it.

    ``language`` (a Whisper code or ``auto``), ``script`` (the user's text for the
    subtitles) and ``captions`` (``""`` off, or ``bottom``/``middle``/``top``, with
    ``caption_size``) are checked by ``jobs.words.transcripts.validate_words_options``.
    """
    language, script, captions, caption_size = transcripts.validate_words_options(
        language=language, script=script, captions=captions, caption_size=caption_size
    )
    engine = engine or settings.RENDER_ENGINE_DEFAULT
    if engine not in engines_offered():
        problem = engine_problem(engine)
        raise ValidationError(
            _("The engine “%(engine)s” is not available on this server.") % {"engine": engine}
            + (f" {problem}" if problem else "")
        )
    ids = list(dict.fromkeys(str(t) for t in template_ids))
    if not ids:
        raise ValidationError(_("Pick at least one template video."))
    if len(ids) > settings.MAX_TEMPLATES_PER_BATCH:
        raise ValidationError(
            _("A batch can hold at most %(limit)d templates; you picked %(n)d.")
            % {"limit": settings.MAX_TEMPLATES_PER_BATCH, "n": len(ids)}
        )
    name = (name or "").strip()[:120] or default_batch_name(owner)

    with transaction.atomic():
        # Lock the user's row: parallel requests queue behind each other here, so the
        # concurrent-jobs limit cannot be overrun.
        locked = user_lock(owner.pk)
        audio = AudioClip.objects.for_user(locked).filter(pk=audio_id).first()
        if audio is None:
            raise ValidationError(_("That audio file is no longer available. Upload it again."))
        templates = {str(t.pk): t for t in Template.objects.for_user(locked).filter(pk__in=ids)}
        missing = [i for i in ids if i not in templates]
        if missing:
            raise ValidationError(
                ngettext(
                    "%(n)d of the chosen templates is no longer available. Refresh the page and pick again.",
                    "%(n)d of the chosen templates are no longer available. Refresh the page and pick again.",
                    len(missing),
                )
                % {"n": len(missing)}
            )
        # A template whose face check failed can only fail: refuse it before the start, by name.
        faceless = [
            templates[i].original_name for i in ids if templates[i].face_status == FaceStatus.FAILED
        ]
        if faceless:
            raise ValidationError(
                ngettext(
                    "No usable face was found in %(names)s, so it cannot be in a batch. Remove it and start again, or upload another video of the person.",
                    "No usable face was found in %(names)s, so they cannot be in a batch. Remove them and start again, or upload other videos of the person.",
                    len(faceless),
                )
                % {"names": "、".join(f"“{n}”" for n in faceless)},
                code="no_face",
            )
        active = RenderJob.objects.for_user(locked).active().count()
        if active + len(ids) > locked.max_concurrent_jobs:
            raise ValidationError(
                _(
                    "You have %(active)d videos queued or rendering and your limit is %(limit)d at "
                    "once; this batch adds %(n)d. Wait for some to finish, or pick fewer templates."
                )
                % {"active": active, "limit": locked.max_concurrent_jobs, "n": len(ids)}
            )
        estimates = {
            tid: usage.estimate_output_bytes(audio=audio, template=t)
            for tid, t in templates.items()
        }
        usage.storage_check(user=locked, needed=sum(estimates.values()), what=_("this batch"))
        batch = Batch.objects.create(
            owner=locked,
            audio=audio,
            name=clean_text_name(name),
            engine=engine,
            language=language,
            script=script,
            captions=captions,
            caption_size=caption_size,
        )
        RenderJob.objects.bulk_create(
            RenderJob(
                batch=batch,
                template=templates[tid],
                template_name=templates[tid].original_name,
                position=i,
                estimated_output_bytes=estimates[tid],
            )
            for i, tid in enumerate(ids, start=1)
        )
        preparation.batch_prepare_send(batch_id=batch.pk)
    log.info(
        "batch created",
        extra={"user_id": owner.pk, "batch_id": str(batch.pk), "jobs": len(ids), "engine": engine},
    )
    return batch


def batch_cancel(*, batch: Batch) -> int:
    """Cancel queued jobs at once; running ones stop at their next frame chunk."""
    now = timezone.now()
    with transaction.atomic():
        n = lifecycle.jobs_cancel(batch.jobs.all(), now=now)
        Batch.objects.filter(pk=batch.pk).update(canceled_at=now)
        lifecycle.batch_finish_if_done(batch.pk)
    log.info("batch canceled", extra=lifecycle.log_ids(batch) | {"jobs": n})
    return n


def jobs_retryable(jobs: Any) -> Any:
    """The failed or canceled ones among `jobs` that a retry may fix (not a faceless or deleted
    template: those would fail the same way)."""
    return (
        jobs.filter(status__in=(JobStatus.FAILED, JobStatus.CANCELED), template__isnull=False)
        .exclude(template__face_status=FaceStatus.FAILED)
        .exclude(error_code__in=("no_face", "template_deleted"))
        # Too little usable face: only another face chosen (checked again, ready) can help.
        .exclude(Q(error_code="face_too_little") & ~Q(template__face_status=FaceStatus.READY))
    )


def jobs_cancel(*, jobs: Any) -> int:
    """Cancel the queued or running ones among `jobs` (the admin's action on single videos);
    running ones stop at their next frame chunk. Their batches finish if nothing is left."""
    now = timezone.now()
    with transaction.atomic():
        batch_ids = set(jobs.filter(status__in=ACTIVE_STATUSES).values_list("batch_id", flat=True))
        n = lifecycle.jobs_cancel(jobs.model.objects.filter(pk__in=jobs.values("pk")), now=now)
        for batch_id in batch_ids:
            lifecycle.batch_finish_if_done(batch_id)
    log.info("jobs canceled", extra={"jobs": n})
    return n


def batch_retry_failed(*, batch: Batch) -> int:
    """Put failed and canceled jobs back in the queue with a fresh attempt count; jobs a retry
    cannot fix (jobs_retryable) stay as they are.

    Refused (ValidationError) when they would pass the concurrent-jobs limit or the quota, or
    when no job could be fixed by a retry."""
    with transaction.atomic():
        # The owner's lock makes check + requeue one step, as in batch_create.
        locked = user_lock(batch.owner_id)
        finished = batch.jobs.filter(status__in=(JobStatus.FAILED, JobStatus.CANCELED))
        jobs = jobs_retryable(finished)
        if finished.exists() and not jobs.exists():
            raise ValidationError(
                _(
                    "Nothing was retried: every failed video here has a template with no usable "
                    "face (or a deleted one), so it would fail the same way. Start a new batch with "
                    "other videos of the person."
                ),
                code="not_retryable",
            )
        usage.retry_check(user=locked, jobs=jobs, what=_("retrying this batch"))
        n = lifecycle.jobs_requeue(jobs, owner_id=batch.owner_id)
        if n:
            Batch.objects.filter(pk=batch.pk).update(finished_at=None, canceled_at=None)
            preparation.batch_prepare_send(batch_id=batch.pk)
    log.info("batch retried", extra=lifecycle.log_ids(batch) | {"jobs": n})
    return n


def job_retry(*, job: RenderJob) -> bool:
    """Put one failed or canceled job back in the queue (limits checked as for a batch).

    Refused with the reason when a retry cannot succeed (retry_blocked_reason)."""
    reason = retry_blocked_reason(job)
    if reason and job.status in (JobStatus.FAILED, JobStatus.CANCELED):
        raise ValidationError(reason, code="not_retryable")
    with transaction.atomic():
        locked = user_lock(job.batch.owner_id)
        jobs = RenderJob.objects.filter(
            pk=job.pk, status__in=(JobStatus.FAILED, JobStatus.CANCELED)
        )
        usage.retry_check(user=locked, jobs=jobs, what=_("retrying this video"))
        n = lifecycle.jobs_requeue(jobs, owner_id=job.batch.owner_id)
        if n:
            Batch.objects.filter(pk=job.batch_id).update(finished_at=None, canceled_at=None)
            preparation.batch_prepare_send(batch_id=job.batch_id)
    log.info("job retried", extra=lifecycle.log_ids(job.batch, job) | {"requeued": bool(n)})
    return bool(n)


# Deletions mark rows, commit, then delete files and rows (jobs.storage.deletion explains why).


def batch_delete(*, batch: Batch) -> None:
    """Delete a batch, its jobs and its result files (running jobs are canceled first)."""
    deletion.batches_mark(owner_id=batch.owner_id, batch_ids=[batch.pk])
    log.info("batch deleted", extra=lifecycle.log_ids(batch))


def job_delete(*, job: RenderJob) -> None:
    """Delete one result (its job row and output file)."""
    deletion.jobs_mark(owner_id=job.batch.owner_id, job_ids=[job.pk])
    log.info("job deleted", extra=lifecycle.log_ids(job.batch, job))


def template_delete(*, template: Template) -> None:
    """Remove a template from the library. Finished results keep working (they copied its name)."""
    if template.render_jobs.filter(status__in=ACTIVE_STATUSES).exists():
        raise ValidationError(
            _(
                "This template is used by a batch that is still rendering. Wait for it to finish or cancel it first."
            )
        )
    deletion.templates_mark(owner_id=template.owner_id, template_ids=[template.pk])
    log.info(
        "template deleted", extra={"user_id": template.owner_id, "template_id": str(template.pk)}
    )


def audio_delete(*, clip: AudioClip) -> None:
    """Remove an audio clip; one still driving a batch is kept (retries need it)."""
    used = Batch.objects.filter(audio=clip).count()
    if used:
        raise ValidationError(
            ngettext(
                "This audio drives %(n)d batch in your history. Delete that batch first, or keep the audio.",
                "This audio drives %(n)d batches in your history. Delete those batches first, or keep the audio.",
                used,
            )
            % {"n": used}
        )
    deletion.audio_mark(owner_id=clip.owner_id, audio_ids=[clip.pk])
    log.info("audio deleted", extra={"user_id": clip.owner_id, "audio_id": str(clip.pk)})
