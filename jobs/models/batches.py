"""Batches (one audio, many templates) and their render jobs, one per template."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.models.library import AudioClip, LiveOwnedManager, OwnedQuerySet, Template

if TYPE_CHECKING:
    from accounts.models import User


def output_upload_to(instance: RenderJob, filename: str) -> str:
    batch = instance.batch
    return str(
        PurePosixPath(batch.owner.storage_prefix)
        / "batches"
        / batch.id.hex
        / f"output_{instance.position:03d}.mp4"
    )


class Batch(models.Model):
    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="batches",
        verbose_name=_("owner"),
    )
    # PROTECT: an audio clip outlives every batch that it drives.
    audio = models.ForeignKey(
        AudioClip, on_delete=models.PROTECT, related_name="batches", verbose_name=_("audio")
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    engine = models.CharField(max_length=32, default="classic", verbose_name=_("engine"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    canceled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("canceled"))

    # Words (jobs.words.transcripts): asked for at batch start...
    language = models.CharField(  # a Whisper code, or auto
        max_length=8, default="auto", verbose_name=_("language")
    )
    script = models.TextField(  # the user's own text; subtitles use its words
        blank=True, verbose_name=_("script")
    )
    captions = models.CharField(  # "" off, else bottom/middle/top
        max_length=8, blank=True, verbose_name=_("burned-in captions")
    )
    caption_size = models.CharField(max_length=8, default="medium", verbose_name=_("caption size"))
    # ...and filled in by the preparation step: Transcript.to_dict(), the subtitle cues
    # ([{"start", "end", "lines"}]), and why there are none (a code: jobs.words.transcripts).
    transcript = models.JSONField(
        null=True, blank=True, editable=False, verbose_name=_("transcript")
    )
    subtitle_cues = models.JSONField(
        null=True, blank=True, editable=False, verbose_name=_("subtitle cues")
    )
    transcript_status = models.CharField(
        max_length=16, blank=True, editable=False, verbose_name=_("transcript status")
    )

    # Set when deletion starts (mark, commit, delete files, delete rows): see jobs.storage.deletion.
    deleting_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("deletion started")
    )

    # The preparation's lease (jobs.render.worker.preparation, jobs.render.leases): wanted while
    # prepare_queued_at is set, held while prepare_heartbeat_at is; the watchdog sends a
    # preparation that died again, as it does a render, so the words are never lost.
    prepare_queued_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("preparation wanted since")
    )
    prepare_heartbeat_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("preparation heartbeat")
    )
    prepare_attempts = models.PositiveSmallIntegerField(
        default=0, editable=False, verbose_name=_("preparation attempts")
    )

    objects: ClassVar[OwnedQuerySet] = LiveOwnedManager()  # type: ignore[assignment]
    all_objects: ClassVar[OwnedQuerySet] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        indexes = [
            # The history page: a user's batches newest first, and its name search.
            models.Index(fields=["owner", "-created_at"], name="batch_owner_created"),
            models.Index(fields=["owner", "name"], name="batch_owner_name"),
        ]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Rendering")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class RenderJobQuerySet(models.QuerySet["RenderJob"]):
    def for_user(self, user: User) -> RenderJobQuerySet:
        return self.filter(batch__owner=user)

    def active(self) -> RenderJobQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)


class LiveRenderJobManager(models.Manager["RenderJob"]):
    """Hides jobs marked for deletion (marking a batch marks its jobs in the same update)."""

    def get_queryset(self) -> RenderJobQuerySet:
        return RenderJobQuerySet(self.model, using=self._db).filter(deleting_at__isnull=True)

    def for_user(self, user: User) -> RenderJobQuerySet:
        return self.get_queryset().for_user(user)

    def active(self) -> RenderJobQuerySet:
        return self.get_queryset().active()


class RenderJob(models.Model):
    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("batch")
    )
    # SET_NULL: deleting a template from the library keeps finished results; the
    # name is copied so the result still says what it was made from.
    template = models.ForeignKey(
        Template,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="render_jobs",
        verbose_name=_("template"),
    )
    template_name = models.CharField(max_length=255, verbose_name=_("template name"))
    position = models.PositiveIntegerField(verbose_name=_("position"))
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, verbose_name=_("status")
    )
    progress = models.FloatField(default=0.0, verbose_name=_("progress"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # English, as stored for logs, webhooks and the admin; pages and the API say it in the
    # reader's language from error_code and error_params (jobs.user_errors).
    error_message = models.TextField(blank=True, verbose_name=_("error message"))
    error_code = models.CharField(max_length=40, blank=True, verbose_name=_("error code"))
    error_params = models.JSONField(default=dict, blank=True, verbose_name=_("error parameters"))
    log = models.TextField(blank=True, verbose_name=_("log"))
    output = models.FileField(
        upload_to=output_upload_to, max_length=255, blank=True, verbose_name=_("output")
    )
    output_size = models.BigIntegerField(default=0, verbose_name=_("output size (bytes)"))
    output_duration = models.FloatField(
        null=True, blank=True, verbose_name=_("output duration (seconds)")
    )
    # SHA-256 of the output, taken once when the render succeeds, so the ZIP export's
    # manifest costs no second read of every video (empty for rows from before it existed).
    output_sha256 = models.CharField(max_length=64, blank=True, verbose_name=_("output SHA-256"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last heartbeat"))
    # While queued: when someone alive last vouched for the job (its task was sent, or its
    # batch's preparation is still working). A queued job silent for JOB_STALE_AFTER has
    # lost its task (a worker host died holding it) and the watchdog sends it again.
    queued_at = models.DateTimeField(default=timezone.now, verbose_name=_("queued since"))
    # What the result is expected to weigh, counted against the quota while the job is
    # queued or running, so parallel batches cannot together overrun it.
    estimated_output_bytes = models.BigIntegerField(
        default=0, verbose_name=_("estimated output size (bytes)")
    )
    # What the worker measured on the finished result (rendering.quality.QualityReport
    # .to_dict()); None before success, or when the measurement itself failed.
    quality = models.JSONField(null=True, blank=True, editable=False, verbose_name=_("quality"))
    deleting_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("deletion started")
    )

    objects: ClassVar[RenderJobQuerySet] = LiveRenderJobManager()  # type: ignore[assignment]
    all_objects: ClassVar[RenderJobQuerySet] = RenderJobQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("batch", "position")
        verbose_name = _("render job")
        verbose_name_plural = _("render jobs")
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="job_unique_position"),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="job_progress_range"
            ),
        ]
        indexes = [
            models.Index(fields=["batch", "status"], name="job_batch_status"),
            # The watchdog: running jobs whose heartbeat stopped.
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat"),
            # The watchdog: queued jobs whose task was lost with its worker.
            models.Index(fields=["status", "queued_at"], name="job_status_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} #{self.position} {self.template_name}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
