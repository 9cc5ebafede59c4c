"""Reads of user data. Every function takes the user first: it is the one door to tenant rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_q.brokers import get_broker

from accounts.models import User
from jobs.models import ACTIVE_STATUSES, AudioClip, Batch, JobStatus, Notice, RenderJob, Template
from jobs.user_errors import job_error_text


class BatchStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DONE_WITH_FAILURES = "done with failures"
    CANCELED = "canceled"


@dataclass(frozen=True)
class BatchCounts:
    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    canceled: int

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.canceled

    @property
    def active(self) -> int:
        return self.queued + self.running

    def as_dict(self) -> dict[str, int]:
        """The counts as the API and webhooks publish them."""
        return {
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "canceled": self.canceled,
            "queued": self.queued,
            "running": self.running,
        }

    @classmethod
    def of(cls, jobs: Sequence[RenderJob]) -> BatchCounts:
        """Counts of jobs already loaded (no query)."""
        statuses = [j.status for j in jobs]
        return cls(
            total=len(statuses),
            queued=statuses.count(JobStatus.QUEUED),
            running=statuses.count(JobStatus.RUNNING),
            succeeded=statuses.count(JobStatus.SUCCEEDED),
            failed=statuses.count(JobStatus.FAILED),
            canceled=statuses.count(JobStatus.CANCELED),
        )

    @property
    def status(self) -> str:
        """Batch status is derived from its jobs, never stored."""
        if self.queued or self.running:
            if self.running or self.finished:
                return BatchStatus.RUNNING
            return BatchStatus.QUEUED
        if self.canceled and not self.succeeded and not self.failed:
            return BatchStatus.CANCELED
        if self.failed or self.canceled:
            return BatchStatus.DONE_WITH_FAILURES
        return BatchStatus.DONE


def _count(status: str) -> Count:
    return Count("jobs", filter=Q(jobs__status=status))


def with_job_counts(qs: QuerySet[Batch]) -> QuerySet[Batch]:
    """Annotate batches with their job counts and output size (one query, any page size)."""
    return qs.annotate(
        n_total=Count("jobs"),
        n_queued=_count(JobStatus.QUEUED),
        n_running=_count(JobStatus.RUNNING),
        n_succeeded=_count(JobStatus.SUCCEEDED),
        n_failed=_count(JobStatus.FAILED),
        n_canceled=_count(JobStatus.CANCELED),
        output_bytes=Sum("jobs__output_size"),
    )


def batches_for_user(user: User, *, search: str = "") -> QuerySet[Batch]:
    """The user's batches, newest first, with job counts and output size in the same query."""
    qs = with_job_counts(Batch.objects.for_user(user).select_related("audio")).order_by(
        "-created_at"
    )
    if search:
        # A batch is found by its own name, its audio's or any of its templates' names.
        term = search.strip()
        matching_jobs = RenderJob.objects.filter(
            batch=OuterRef("pk"), template_name__icontains=term
        )
        qs = qs.filter(
            Q(name__icontains=term)
            | Q(audio__original_name__icontains=term)
            | Q(Exists(matching_jobs))
        )
    return qs


def batch_counts(batch: Batch) -> BatchCounts:
    """Counts from an annotated batch (batches_for_user) or, failing that, one query."""
    if hasattr(batch, "n_total"):
        annotated: Any = batch
        return BatchCounts(
            total=annotated.n_total,
            queued=annotated.n_queued,
            running=annotated.n_running,
            succeeded=annotated.n_succeeded,
            failed=annotated.n_failed,
            canceled=annotated.n_canceled,
        )
    rows = dict(batch.jobs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return BatchCounts(
        total=sum(rows.values()),
        queued=rows.get(JobStatus.QUEUED, 0),
        running=rows.get(JobStatus.RUNNING, 0),
        succeeded=rows.get(JobStatus.SUCCEEDED, 0),
        failed=rows.get(JobStatus.FAILED, 0),
        canceled=rows.get(JobStatus.CANCELED, 0),
    )


# --- The one read model of a batch: pages, the API, webhooks and the admin read it here ------


@dataclass(frozen=True)
class BatchState:
    """A batch as every surface shows it: its jobs by position, counts, status and progress."""

    batch: Batch
    jobs: list[RenderJob]
    counts: BatchCounts

    @property
    def status(self) -> str:
        return self.counts.status

    @property
    def progress(self) -> float:
        """0..1 over the whole batch: finished jobs count whole, running ones by their bar.

        A batch without jobs (all its results deleted) is done, so it is 1.0."""
        if not self.jobs:
            return 1.0
        running = sum(j.progress for j in self.jobs if j.status == JobStatus.RUNNING)
        return round((self.counts.finished + running) / len(self.jobs), 3)

    @property
    def output_bytes(self) -> int:
        return sum(j.output_size for j in self.jobs)

    def eta_seconds(self, *, now: datetime) -> float | None:
        """Time left, from the pace so far: finished work units per second of wall time."""
        if not self.counts.active:
            return 0.0
        started = [j.started_at for j in self.jobs if j.started_at]
        if not started:
            return None
        done_units = sum(
            1.0 for j in self.jobs if j.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
        ) + sum(j.progress for j in self.jobs if j.status == JobStatus.RUNNING)
        if done_units < 0.05:
            return None
        elapsed = (now - min(started)).total_seconds()
        left_units = sum(
            1.0 - j.progress for j in self.jobs if j.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        )
        return max(0.0, elapsed / done_units * left_units)


def batch_state(batch: Batch, *, jobs: Sequence[RenderJob] | None = None) -> BatchState:
    """The batch's read model. `jobs`: its jobs already loaded (a prefetch), else one query."""
    loaded = (
        list(jobs)
        if jobs is not None
        else list(batch.jobs.select_related("template").order_by("position"))
    )
    return BatchState(batch=batch, jobs=loaded, counts=BatchCounts.of(loaded))


def iso_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def job_payload(job: RenderJob) -> dict[str, Any]:
    """One job in the product's published words (webhooks send exactly this; the batch page
    adds its links). The API keeps the field names it published (`error`, `template`)."""
    return {
        "id": str(job.pk),
        "batch_id": str(job.batch_id),
        "position": job.position,
        "template_name": job.template_name,
        "status": job.status,
        "attempts": job.attempts,
        # Worded from the code by the one catalogue, in the active language (a page's reader,
        # a webhook's owner); the code is the stable name for machines.
        "error_message": job_error_text(job),
        "error_code": job.error_code,
        "output_size": job.output_size,
        "output_duration": job.output_duration,
        "finished_at": iso_utc(job.finished_at),
        # rendering.quality.QualityReport.to_dict(): sync, best_offset, confidence,
        # psnr_outside, coverage, frames_measured, review, reasons (codes); None when unmeasured.
        "quality": job.quality,
    }


# --- Uploads no queued or running video needs (deletion, retention and quota cleanup) ------


def templates_not_in_use(owner_id: int) -> QuerySet[Template]:
    """The owner's templates that no queued or running job renders from."""
    return Template.objects.filter(owner_id=owner_id).exclude(
        render_jobs__status__in=ACTIVE_STATUSES
    )


def audio_not_in_use(owner_id: int) -> QuerySet[AudioClip]:
    """The owner's audio clips that no kept batch uses (a batch needs its audio to retry)."""
    return AudioClip.objects.filter(owner_id=owner_id).exclude(
        pk__in=Batch.objects.filter(owner_id=owner_id).values("audio_id")
    )


def batch_get(user: User, batch_id: object) -> Batch:
    """One of the user's batches; a missing or foreign id is a 404."""
    return get_object_or_404(Batch.objects.for_user(user).select_related("audio"), pk=batch_id)


def job_get(user: User, job_id: object) -> RenderJob:
    return get_object_or_404(RenderJob.objects.for_user(user).select_related("batch"), pk=job_id)


def template_get(user: User, template_id: object) -> Template:
    return get_object_or_404(Template.objects.for_user(user), pk=template_id)


FACE_FIELDS = ("x", "y", "size", "visible", "turn", "score")


def template_faces(template: Template) -> list[dict[str, Any]]:
    """The faces a template shows, best default speaker first, as pages and the API publish
    them: where each is (fractions of the frame), how often seen, how turned, and whether
    it is the one that speaks in new batches. Without thumbnail links (each surface adds
    its own, through a view that checks the owner)."""
    speaker = template.speaker_index
    return [
        {"index": i, **{k: face.get(k) for k in FACE_FIELDS}, "speaks": i == speaker}
        for i, face in enumerate(template.face_list)
    ]


def template_face_thumbnail_name(template: Template, index: int) -> str:
    """The stored name of one face's thumbnail; a missing face or picture is a 404."""
    faces = template.face_list
    name = str(faces[index].get("thumbnail") or "") if 0 <= index < len(faces) else ""
    if not name:
        raise Http404("No such face.")
    return name


def templates_for_user(user: User) -> QuerySet[Template]:
    return Template.objects.for_user(user).order_by("-created_at")


def audio_for_user(user: User) -> QuerySet[AudioClip]:
    return AudioClip.objects.for_user(user).order_by("-created_at")


def audio_get(user: User, audio_id: object) -> AudioClip:
    return get_object_or_404(AudioClip.objects.for_user(user), pk=audio_id)


# --- Usage and limits -------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What a user stores against their limits: the account page and the API show this."""

    used_bytes: int
    audio_bytes: int
    template_bytes: int
    result_bytes: int
    quota_bytes: int
    reserved_bytes: int
    max_concurrent_jobs: int
    active_jobs: int
    retention_days: int

    @property
    def free_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used_bytes)

    @property
    def percent(self) -> float:
        return _percent(self.used_bytes, self.quota_bytes)

    @property
    def audio_percent(self) -> float:
        return _percent(self.audio_bytes, self.quota_bytes)

    @property
    def template_percent(self) -> float:
        return _percent(self.template_bytes, self.quota_bytes)

    @property
    def result_percent(self) -> float:
        return _percent(self.result_bytes, self.quota_bytes)

    @property
    def over_quota(self) -> bool:
        return self.used_bytes > self.quota_bytes


def _percent(part: int, whole: int) -> float:
    return 100.0 if whole <= 0 else round(min(100.0, 100.0 * part / whole), 1)


def usage_for_user(user: User) -> Usage:
    """The user's storage by kind, their limits and their queued-or-running videos (4 queries)."""
    fresh = User.objects.get(pk=user.pk)  # the counter moves in other requests
    jobs = RenderJob.objects.for_user(fresh)
    active = jobs.active().aggregate(n=Count("id"), reserved=Sum("estimated_output_bytes"))
    return Usage(
        used_bytes=fresh.storage_used_bytes,
        audio_bytes=_total(AudioClip.objects.for_user(fresh), "size_bytes"),
        template_bytes=_total(Template.objects.for_user(fresh), "size_bytes"),
        result_bytes=_total(jobs, "output_size"),
        quota_bytes=fresh.storage_quota_bytes,
        reserved_bytes=int(active["reserved"] or 0),
        max_concurrent_jobs=fresh.max_concurrent_jobs,
        active_jobs=int(active["n"]),
        retention_days=fresh.retention_days,
    )


def _total(qs: QuerySet[Any], field: str) -> int:
    return int(qs.aggregate(n=Sum(field))["n"] or 0)


def batch_expires_at(batch: Batch, *, retention_days: int) -> datetime:
    """When retention removes a batch (jobs.storage.retention): its creation plus the owner's period."""
    return batch.created_at + timedelta(days=retention_days)


@dataclass(frozen=True)
class QueueOverview:
    queued_jobs: int
    running_jobs: int
    broker_tasks: int | None  # tasks waiting in django-q2's broker; None when it cannot say


def queue_overview() -> QueueOverview:
    """For the admin's batch list: how much work waits and runs across all users."""
    rows = dict(
        RenderJob.objects.active()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    broker: int | None
    try:
        broker = int(get_broker().queue_size() or 0)
    except Exception:  # a broker that is down must not take the admin page with it
        broker = None
    return QueueOverview(
        queued_jobs=rows.get(JobStatus.QUEUED, 0),
        running_jobs=rows.get(JobStatus.RUNNING, 0),
        broker_tasks=broker,
    )


def batches_with_status(qs: QuerySet[Batch], status: str) -> QuerySet[Batch]:
    """Filter batches annotated by `with_job_counts` on their derived status (BatchCounts.status)."""
    active = Q(n_queued__gt=0) | Q(n_running__gt=0)
    idle = Q(n_queued=0, n_running=0)
    only_canceled = Q(n_canceled__gt=0, n_succeeded=0, n_failed=0)
    conditions = {
        BatchStatus.RUNNING: active
        & (Q(n_running__gt=0) | Q(n_succeeded__gt=0) | Q(n_failed__gt=0) | Q(n_canceled__gt=0)),
        BatchStatus.QUEUED: Q(n_queued__gt=0, n_running=0, n_succeeded=0, n_failed=0, n_canceled=0),
        BatchStatus.DONE: idle & Q(n_failed=0, n_canceled=0),
        BatchStatus.DONE_WITH_FAILURES: idle
        & (Q(n_failed__gt=0) | Q(n_canceled__gt=0))
        & ~only_canceled,
        BatchStatus.CANCELED: idle & only_canceled,
    }
    return qs.filter(conditions[status]) if status in conditions else qs


NOTICES_LISTED = 100


def notices_for_user(user: User) -> QuerySet[Any]:
    """The user's notices, not yet shown first, each group newest first (at most 100)."""
    unshown = ExpressionWrapper(Q(shown_at__isnull=True), output_field=BooleanField())
    return (
        Notice.objects.filter(owner=user)
        .annotate(unshown=unshown)
        .order_by("-unshown", "-created_at", "-id")[:NOTICES_LISTED]
    )
