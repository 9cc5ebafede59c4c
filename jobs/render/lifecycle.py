"""A render job's life, in the only functions that move it: claim, heartbeat, succeed, fail,
cancel, requeue, and the batch's finish once its last active job ends.

RenderJob: ``queued -> running -> succeeded | failed | canceled``; ``failed -> queued`` on
retry. Each move is a conditional update on the status it leaves, so a twin worker, a cancel
and a watchdog racing each other can never both win; webhooks are emitted on commit.

Claim, heartbeat and the watchdog's share are the lease machine's (``jobs.render.leases``, with
``RENDER_LEASE`` below). The watchdog (``jobs.tasks.requeue_stale_jobs``, every minute)
covers both ways a worker host's death strands a job, whichever broker is used:

- a *running* job whose heartbeat stopped goes back to the queue (or fails after its
  attempts): :func:`jobs_requeue_stale`;
- a *queued* job whose task was taken by a worker that then died (django-q2's ORM broker
  keeps that task locked for ``retry`` seconds, Redis loses it) is sent again once nobody
  has vouched for it for ``JOB_STALE_AFTER``: :func:`jobs_resend_stranded`. A job that
  merely waits its turn may get a spare task too; the claim makes every spare one a no-op,
  so nothing runs twice.
  A queued job of a batch whose preparation is still wanted is left to that preparation
  (``jobs.render.worker.preparation.PREPARE_LEASE``), which sends it once the words are stored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from jobs.models import (
    ACTIVE_STATUSES,
    SEGMENT_IN_FLIGHT,
    Batch,
    JobStatus,
    RenderJob,
    RenderSegment,
    SegmentStatus,
    WebhookEvent,
    segment_folder,
)
from jobs.render import leases
from jobs.render.queue import render_enqueue_on_commit
from jobs.storage import files, usage
from jobs.storage.files import delete as delete_file
from jobs.storage.usage import usage_add
from jobs.user_errors import english, stored_english
from jobs.webhooks import services as webhooks

log = logging.getLogger("heygem.jobs")


def log_ids(batch: Batch, job: RenderJob | None = None) -> dict[str, Any]:
    ids: dict[str, Any] = {"user_id": batch.owner_id, "batch_id": str(batch.pk)}
    if job is not None:
        ids["job_id"] = str(job.pk)
    return ids


def _job_send(job: RenderJob) -> None:
    render_enqueue_on_commit(job_id=job.pk, batch_id=job.batch_id, engine=job.batch.engine)


def _job_give_up(job: RenderJob, now: datetime) -> bool:
    """Fail a running job whose worker died RENDER_MAX_ATTEMPTS times (if it is still the
    one the watchdog read: running, with the heartbeat read)."""
    params = {"attempts": job.attempts}
    with transaction.atomic():
        n = RenderJob.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=job.heartbeat_at
        ).update(
            status=JobStatus.FAILED,
            error_message=english("worker_lost", params),
            error_code="worker_lost",
            error_params=params,
            finished_at=now,
        )
        if n:
            webhooks.job_event_emit(job=job, event=WebhookEvent.JOB_FAILED)
            batch_finish_if_done(job.batch_id)
    return n == 1


# Render jobs: queued -> running (claimed) -> back to queued when the worker died.
RENDER_LEASE = leases.Lease(
    name="render",
    rows=lambda: RenderJob.objects.all(),
    heartbeat="heartbeat_at",
    attempts="attempts",
    queued_at="queued_at",
    waiting=Q(status=JobStatus.QUEUED),
    held=Q(status=JobStatus.RUNNING),
    claimable=lambda before: Q(status=JobStatus.QUEUED),
    send=_job_send,
    give_up=_job_give_up,
    take={
        "status": JobStatus.RUNNING,
        "progress": 0.0,
        "finished_at": None,
        "error_message": "",
    },
    put_back={"status": JobStatus.QUEUED, "progress": 0.0},
    # A job split into segments is watched through them (jobs.render.segment_plan); a queued job of a
    # batch still being prepared is sent by its preparation (jobs.render.worker.preparation), which
    # the watchdog watches instead.
    held_elsewhere=Q(segments__status__in=SEGMENT_IN_FLIGHT),
    waiting_elsewhere=Q(batch__prepare_queued_at__isnull=False),
    related=("batch",),
)


def job_claim(*, job_id: Any) -> bool:
    """Take a queued job for this worker. Exactly one caller wins (a conditional update)."""
    now = timezone.now()
    return leases.claim(RENDER_LEASE, job_id, now=now, started_at=now)


def job_fail(
    *,
    job: RenderJob,
    code: str = "",
    params: dict[str, Any] | None = None,
    message: str = "",
    log_text: str = "",
) -> bool:
    """Fail a running job with the failure `code` and its `params` (rendering.errors' codes,
    or ours), which the catalogue (jobs.user_errors) words for every reader. `message`: the
    rendering library's own English, kept for a code the catalogue does not know; otherwise
    the row keeps the catalogue's English."""
    message = stored_english(code, params, message)
    with transaction.atomic():
        n = RenderJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED,
            error_message=message,
            error_code=code,
            error_params=params or {},
            finished_at=timezone.now(),
            log=log_text if log_text else F("log"),
        )
        if n:
            webhooks.job_event_emit(job=job, event=WebhookEvent.JOB_FAILED)
        batch_finish_if_done(job.batch_id)
    log.warning("job failed", extra=log_ids(job.batch, job) | {"reason": message})
    return n == 1


def job_succeed(
    *,
    job: RenderJob,
    output_name: str,
    size: int,
    duration: float,
    log_text: str,
    quality: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> bool:
    """Record a finished render (with its quality report, when measured); False when the
    job was canceled meanwhile (the caller drops the file). `sha256`: the result's checksum
    when the caller has it (read from storage otherwise)."""
    sha256 = sha256 or files.sha256(output_name)
    with transaction.atomic():
        n = RenderJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED,
            output=output_name,
            output_size=size,
            output_duration=duration,
            output_sha256=sha256,
            progress=1.0,
            finished_at=timezone.now(),
            log=log_text,
            quality=quality,
        )
        if n:
            usage_add(user_id=job.batch.owner_id, delta=size)
            # What this result measured corrects what the template's queued videos reserve.
            usage.estimates_correct(template_id=job.template_id)
            webhooks.job_event_emit(job=job, event=WebhookEvent.JOB_SUCCEEDED)
        batch_finish_if_done(job.batch_id)
    if n:
        log.info("job succeeded", extra=log_ids(job.batch, job) | {"bytes": size})
    return n == 1


def job_heartbeat(*, job_id: Any, progress: float | None = None) -> bool:
    """Record that the worker is alive (and its progress); False once the job is no longer running."""
    fields: dict[str, Any] = {}
    if progress is not None:
        fields["progress"] = max(0.0, min(1.0, progress))
    return leases.beat(RENDER_LEASE, job_id, **fields)


def jobs_requeue_stale(*, now: Any = None) -> tuple[int, int]:
    """Jobs whose worker died (no heartbeat) go back to the queue, or fail after their attempt
    limit. Returns (requeued, failed)."""
    done = leases.sweep(RENDER_LEASE, now=now, waiting=False)
    return done.requeued, done.failed


def jobs_resend_stranded(*, now: Any = None) -> int:
    """Send a new render task for each queued job nobody has vouched for in JOB_STALE_AFTER.

    Its task was lost with a dead worker. The conditional update on ``queued_at`` lets one
    watchdog resend it per period; the claim in the worker lets one of its tasks run it.
    Jobs of a batch whose preparation is still wanted are left to that preparation's
    lease. Returns how many were sent again.
    """
    done = leases.sweep(RENDER_LEASE, now=now, held=False)
    return done.resent


def jobs_vouch_queued(*, batch_id: Any) -> int:
    """Mark a batch's queued jobs as looked after now (their tasks are being sent, or their
    preparation is alive), so the watchdog leaves them alone for JOB_STALE_AFTER."""
    return int(
        RenderJob.objects.filter(batch_id=batch_id, status=JobStatus.QUEUED).update(
            queued_at=timezone.now()
        )
    )


def jobs_cancel(jobs: QuerySet[RenderJob], *, now: Any = None) -> int:
    """Cancel the queued or running ones among `jobs` (a running one stops at its next
    heartbeat). The caller finishes their batches (batch_finish_if_done)."""
    # Their segments first (while the jobs are still active): their workers stop too.
    RenderSegment.objects.filter(
        job__in=jobs.filter(status__in=ACTIVE_STATUSES), status__in=SEGMENT_IN_FLIGHT
    ).update(status=SegmentStatus.CANCELED, finished_at=now or timezone.now())
    return int(
        jobs.filter(status__in=ACTIVE_STATUSES).update(
            status=JobStatus.CANCELED,
            finished_at=now or timezone.now(),
            error_message=english("canceled"),
            error_code="canceled",
            error_params={},
        )
    )


def jobs_requeue(jobs: QuerySet[RenderJob], *, owner_id: int) -> int:
    """Put finished jobs back in the queue with a fresh attempt count; their old results are
    deleted on commit and leave the owner's usage. The caller has checked the limits."""
    for name in jobs.exclude(output="").values_list("output", flat=True):
        name_to_delete = str(name)
        transaction.on_commit(lambda n=name_to_delete: delete_file(n))  # type: ignore[misc]
    usage_add(user_id=owner_id, delta=-int(jobs.aggregate(n=Sum("output_size"))["n"] or 0))
    # A retry renders every segment again (a face choice or a setting may have changed
    # since): the old ones and their files go.
    for job in jobs.filter(segments__isnull=False).distinct().select_related("batch__owner"):
        folder = segment_folder(job)
        transaction.on_commit(lambda f=folder: files.delete_prefix(f))  # type: ignore[misc]
    RenderSegment.objects.filter(job__in=jobs).delete()
    return int(
        jobs.update(
            status=JobStatus.QUEUED,
            attempts=0,
            progress=0.0,
            error_message="",
            error_code="",
            error_params={},
            log="",
            output="",
            output_size=0,
            quality=None,
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            queued_at=timezone.now(),
        )
    )


def jobs_fail_queued(batch: Batch, *, code: str, params: dict[str, Any] | None = None) -> None:
    """Fail a batch's queued jobs at once (its audio could not be analysed, or its
    preparation kept killing workers), with the failure `code` and its `params`."""
    message = english(code, params)
    now = timezone.now()
    with transaction.atomic():
        batch.jobs.filter(status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED,
            error_message=message,
            error_code=code,
            error_params=params or {},
            finished_at=now,
        )
        batch_finish_if_done(batch.pk)


def batch_finish_if_done(batch_id: Any) -> None:
    """Record the batch's end (and emit batch.completed) once no job of it is active."""
    if RenderJob.objects.filter(batch_id=batch_id, status__in=ACTIVE_STATUSES).exists():
        return
    # The conditional update makes batch.completed fire once per completion.
    if Batch.objects.filter(pk=batch_id, finished_at__isnull=True).update(
        finished_at=timezone.now()
    ):
        webhooks.batch_completed_emit(batch_id=batch_id)
