"""A long render's segments, in the only functions that move them: split, claim, heartbeat,
rendered, join claim, fail, and the watchdog's share.

A job whose output is longer than ``RENDER_SEGMENT_SECONDS`` stays ``running`` while its
segments (``RenderSegment``) are rendered by separate tasks, then one task joins them.
Every move is a conditional update on the state it leaves *and* on the job still running,
so a twin task, a cancel and the watchdog racing each other can never both win:

- ``queued -> running`` (:func:`segment_claim`): one worker per segment;
- ``running -> rendered`` (:func:`segment_rendered`), then the join is claimed by moving
  *every* segment ``rendered -> joining`` at once (:func:`join_claim`): it wins only when
  all of them moved, so exactly one task joins;
- a failure fails the job and cancels its other segments (:func:`segment_fail`); a cancel
  of the job cancels them too (``lifecycle.jobs_cancel``), and their workers stop at their
  next heartbeat, which only succeeds while the job runs.

The watchdog (:func:`segments_requeue_stale`) requeues a running segment whose heartbeat
stopped (a lost worker costs that segment only) or fails the job after
``RENDER_MAX_ATTEMPTS``; sends a new task for a queued segment nobody vouched for in
``JOB_STALE_AFTER``; and sends the join again when its worker died.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Max, Q
from django.utils import timezone

from jobs.models import (
    SEGMENT_IN_FLIGHT,
    JobStatus,
    RenderJob,
    RenderSegment,
    SegmentStatus,
)
from jobs.render import leases, lifecycle
from jobs.render.queue import engine_pool, enqueue_on_commit
from jobs.user_errors import stored_english

log = logging.getLogger("heygem.jobs")

RENDER_TASK = "jobs.tasks.segment_render"
JOIN_TASK = "jobs.tasks.job_join"


def segments_plan(*, n_frames: int, fps: float) -> list[tuple[int, int]]:
    """The [start, stop) frame ranges of a render of ``n_frames``, or [] when it stays whole.

    Segments are ``RENDER_SEGMENT_SECONDS`` long; a short remainder (under half a segment)
    joins the last one rather than making a tiny task.
    """
    seconds = float(settings.RENDER_SEGMENT_SECONDS)
    length = max(1, round(seconds * fps))
    if seconds <= 0 or n_frames <= length:
        return []
    starts = list(range(0, n_frames, length))
    if len(starts) > 1 and n_frames - starts[-1] < length / 2:
        starts.pop()
    return list(zip(starts, [*starts[1:], n_frames], strict=True))


def job_split(*, job: RenderJob, plan: list[tuple[int, int]]) -> bool:
    """Replace the job's segments (an earlier attempt's) with ``plan``'s and send their
    tasks on commit. False when the job stopped running meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        if not RenderJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            heartbeat_at=now, progress=0.0
        ):
            return False
        job.segments.all().delete()
        created = RenderSegment.objects.bulk_create(
            RenderSegment(job=job, index=i, start_frame=a, stop_frame=b, queued_at=now)
            for i, (a, b) in enumerate(plan)
        )
        for segment in created:
            enqueue_on_commit(
                RENDER_TASK,
                str(segment.pk),
                group=str(job.batch_id),
                pool=engine_pool(job.batch.engine),
            )
    log.info(
        "job split into segments", extra=lifecycle.log_ids(job.batch, job) | {"parts": len(plan)}
    )
    return True


def _segment_send(segment: RenderSegment) -> None:
    enqueue_on_commit(
        RENDER_TASK,
        str(segment.pk),
        group=str(segment.job.batch_id),
        pool=engine_pool(segment.job.batch.engine),
    )


def _segment_give_up(segment: RenderSegment, now: datetime) -> bool:
    part = {"part": segment.index + 1, "attempts": segment.attempts}
    return segment_fail(segment=segment, code="segment_worker_lost", params=part)


# Segments of a running job: queued -> running (claimed) -> back to queued when the worker
# died; every state counts only while the job itself runs (a cancel stops them all).
SEGMENT_LEASE = leases.Lease(
    name="segment",
    rows=lambda: RenderSegment.objects.filter(job__status=JobStatus.RUNNING),
    heartbeat="heartbeat_at",
    attempts="attempts",
    queued_at="queued_at",
    waiting=Q(status=SegmentStatus.QUEUED),
    held=Q(status=SegmentStatus.RUNNING),
    claimable=lambda before: Q(status=SegmentStatus.QUEUED),
    send=_segment_send,
    give_up=_segment_give_up,
    take={"status": SegmentStatus.RUNNING, "progress": 0.0, "error_message": ""},
    put_back={"status": SegmentStatus.QUEUED, "progress": 0.0},
    related=("job__batch",),
)


def segment_claim(*, segment_id: Any) -> bool:
    """Take a queued segment of a running job. Exactly one caller wins."""
    return leases.claim(SEGMENT_LEASE, segment_id)


def segment_heartbeat(*, segment: RenderSegment, progress: float | None = None) -> bool:
    """Record that the segment's worker is alive (and its progress, which makes the job's
    the average of its segments'); False once the segment or its job stopped running."""
    fields: dict[str, Any] = {}
    if progress is not None:
        fields["progress"] = max(0.0, min(1.0, progress))
    alive = leases.beat(SEGMENT_LEASE, segment.pk, **fields)
    if alive and progress is not None:
        job_progress_update(job_id=segment.job_id)
    return alive


def job_progress_update(*, job_id: Any) -> None:
    """The job's progress: the average of its segments' (a rendered one counts as 1)."""
    average = RenderSegment.objects.filter(job_id=job_id).aggregate(p=Avg("progress"))["p"]
    RenderJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        progress=float(average or 0.0), heartbeat_at=timezone.now()
    )


def segment_rendered(*, segment: RenderSegment, coverage: float | None) -> bool:
    done = RenderSegment.objects.filter(
        pk=segment.pk, status=SegmentStatus.RUNNING, job__status=JobStatus.RUNNING
    ).update(
        status=SegmentStatus.RENDERED,
        progress=1.0,
        coverage=coverage,
        finished_at=timezone.now(),
    )
    if done:
        job_progress_update(job_id=segment.job_id)
    return done == 1


def join_claim(*, job_id: Any) -> bool:
    """Take the join of a running job whose segments are all rendered. Every segment moves
    ``rendered -> joining`` in one conditional update; it counts only if all of them did
    (otherwise it is rolled back), so one task joins, whoever rendered the last part."""
    with transaction.atomic():
        total = RenderSegment.objects.filter(job_id=job_id).count()
        moved = RenderSegment.objects.filter(
            job_id=job_id, status=SegmentStatus.RENDERED, job__status=JobStatus.RUNNING
        ).update(status=SegmentStatus.JOINING, heartbeat_at=timezone.now())
        if total == 0 or moved != total:
            transaction.set_rollback(True)
            return False
    return True


def join_heartbeat(*, job_id: Any) -> bool:
    """The joining worker is alive; False once the job stopped running (canceled)."""
    now = timezone.now()
    alive = RenderSegment.objects.filter(
        job_id=job_id, status=SegmentStatus.JOINING, job__status=JobStatus.RUNNING
    ).update(heartbeat_at=now)
    RenderJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(heartbeat_at=now)
    return alive > 0


def join_done(*, job_id: Any) -> None:
    RenderSegment.objects.filter(job_id=job_id, status=SegmentStatus.JOINING).update(
        status=SegmentStatus.JOINED, finished_at=timezone.now()
    )


def segment_fail(
    *,
    segment: RenderSegment,
    code: str,
    params: dict[str, Any] | None = None,
    message: str = "",
    log_text: str = "",
) -> bool:
    """Fail the segment and its job (its other segments are canceled, so their workers stop)
    with the failure `code` and `params`; `message` as for ``lifecycle.job_fail``."""
    message = stored_english(code, params, message)
    now = timezone.now()
    with transaction.atomic():
        n = RenderSegment.objects.filter(pk=segment.pk, status__in=SEGMENT_IN_FLIGHT).update(
            status=SegmentStatus.FAILED, error_message=message, finished_at=now
        )
        RenderSegment.objects.filter(job_id=segment.job_id, status__in=SEGMENT_IN_FLIGHT).update(
            status=SegmentStatus.CANCELED, finished_at=now
        )
        job = RenderJob.objects.select_related("batch").get(pk=segment.job_id)
        lifecycle.job_fail(job=job, message=message, log_text=log_text, code=code, params=params)
    return n == 1


def segments_requeue_stale(*, now: Any = None) -> tuple[int, int, int]:
    """The watchdog's share for segments. Returns (requeued, failed, sent again)."""
    now = now or timezone.now()
    done = leases.sweep(SEGMENT_LEASE, now=now)
    resent = done.resent + _joins_resend(now=now, stale_before=leases.stale_before(now))
    return done.requeued, done.failed, resent


def _joins_resend(*, now: Any, stale_before: Any) -> int:
    """Send the join again for running jobs whose segments are all rendered (or were being
    joined) and have been silent for JOB_STALE_AFTER: the worker that should join died."""
    resent = 0
    candidates = (
        RenderSegment.objects.filter(
            job__status=JobStatus.RUNNING,
            status__in=[SegmentStatus.RENDERED, SegmentStatus.JOINING],
        )
        .values("job_id", "job__batch_id", "job__batch__engine")
        .annotate(last=Max("heartbeat_at"), done=Max("finished_at"))
    )
    for row in candidates:
        job_id = row["job_id"]
        if (
            RenderSegment.objects.filter(job_id=job_id)
            .exclude(status__in=[SegmentStatus.RENDERED, SegmentStatus.JOINING])
            .exists()
        ):
            continue  # parts still rendering: their own worker will claim the join
        last = max(t for t in (row["last"], row["done"]) if t is not None)
        if last >= stale_before:
            continue
        with transaction.atomic():
            RenderSegment.objects.filter(job_id=job_id, status=SegmentStatus.JOINING).update(
                status=SegmentStatus.RENDERED
            )
            # Vouch for the job for another period, so one watchdog run sends one join.
            RenderSegment.objects.filter(job_id=job_id).update(heartbeat_at=now, finished_at=now)
            enqueue_on_commit(
                JOIN_TASK,
                str(job_id),
                group=str(row["job__batch_id"]),
                pool=engine_pool(row["job__batch__engine"]),
            )
        resent += 1
        log.warning("join sent again: its worker stopped", extra={"job_id": str(job_id)})
    return resent
