"""Segments of a long render: parts of one job's output timeline rendered by separate tasks.

RenderSegment: ``queued -> running -> rendered -> joining -> joined``, or ``failed`` /
``canceled``; ``running -> queued`` (and ``joining -> rendered``) when the watchdog finds
the worker gone. The state moves live in ``jobs.render.segment_plan``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.db import models
from django.utils.translation import gettext_lazy as _

from jobs.models.batches import RenderJob, output_upload_to


class SegmentStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Rendering")
    RENDERED = "rendered", _("Rendered")
    JOINING = "joining", _("Joining")
    JOINED = "joined", _("Joined")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


# A segment in these states still has work ahead of it (its job is not done).
SEGMENT_IN_FLIGHT = (
    SegmentStatus.QUEUED,
    SegmentStatus.RUNNING,
    SegmentStatus.RENDERED,
    SegmentStatus.JOINING,
)


def segment_folder(job: RenderJob) -> str:
    """Where a job's segment files live (storage name): ``.../batches/<batch>/segments/<job>``."""
    return str(PurePosixPath(output_upload_to(job, "")).parent / "segments" / job.pk.hex)


def segment_name(job: RenderJob, index: int) -> str:
    """The storage name of segment ``index`` of ``job``."""
    return str(PurePosixPath(segment_folder(job)) / f"{index:03d}.mp4")


class RenderSegment(models.Model):
    job = models.ForeignKey(
        RenderJob, on_delete=models.CASCADE, related_name="segments", verbose_name=_("job")
    )
    index = models.PositiveIntegerField(verbose_name=_("index"))
    start_frame = models.PositiveIntegerField(verbose_name=_("first frame"))
    stop_frame = models.PositiveIntegerField(verbose_name=_("end frame (excluded)"))
    status = models.CharField(
        max_length=16,
        choices=SegmentStatus.choices,
        default=SegmentStatus.QUEUED,
        db_index=True,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    progress = models.FloatField(default=0.0, verbose_name=_("progress"))
    coverage = models.FloatField(null=True, blank=True, verbose_name=_("coverage"))
    queued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("queued since"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last heartbeat"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    error_message = models.TextField(blank=True, verbose_name=_("error message"))

    class Meta:
        verbose_name = _("render segment")
        verbose_name_plural = _("render segments")
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="segment_unique_index"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.index} [{self.start_frame}, {self.stop_frame})"
