"""Audio clips, templates, batches and render jobs: the product's state.

Every query for user data starts from the user (`Model.objects.for_user(user)`), and every
file lives under ``MEDIA_ROOT/users/<storage id>/`` with a generated name; the original
file name is kept only in the database.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from accounts.models import User

# Extensions we keep on stored files; anything else is stored without one.
_SAFE_SUFFIXES = {
    ".mp4",
    ".mov",
    ".m4v",
    ".webm",
    ".mkv",
    ".avi",
    ".wav",
    ".mp3",
    ".m4a",
    ".aac",
    ".flac",
    ".ogg",
    ".opus",
    ".jpg",
}


def _generated_name(folder: str, original: str, *, owner: User) -> str:
    suffix = PurePosixPath(original).suffix.lower()
    suffix = suffix if suffix in _SAFE_SUFFIXES else ""
    return str(PurePosixPath(owner.storage_prefix) / folder / f"{uuid.uuid4().hex}{suffix}")


def audio_upload_to(instance: AudioClip, filename: str) -> str:
    return _generated_name("audio", filename, owner=instance.owner)


def template_upload_to(instance: Template, filename: str) -> str:
    return _generated_name("templates", filename, owner=instance.owner)


def thumbnail_upload_to(instance: Template, filename: str) -> str:
    return _generated_name("thumbnails", ".jpg", owner=instance.owner)


def output_upload_to(instance: RenderJob, filename: str) -> str:
    batch = instance.batch
    return str(
        PurePosixPath(batch.owner.storage_prefix)
        / "batches"
        / batch.id.hex
        / f"output_{instance.position:03d}.mp4"
    )


class OwnedQuerySet(models.QuerySet[Any]):
    """The one door to tenant data: rows owned by a user."""

    def for_user(self, user: User) -> OwnedQuerySet:
        return self.filter(owner=user)


class LiveOwnedManager(models.Manager[Any]):
    """The default manager hides rows marked for deletion (`deleting_at`): between the mark
    and the removal of files and rows (or after a crash there) nothing marked is visible to
    pages, the API or reverse relations. `all_objects` sees everything (deletion, sweeper)."""

    def get_queryset(self) -> OwnedQuerySet:
        return OwnedQuerySet(self.model, using=self._db).filter(deleting_at__isnull=True)

    def for_user(self, user: User) -> OwnedQuerySet:
        return self.get_queryset().for_user(user)


class AudioClip(models.Model):
    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="audio_clips",
        verbose_name=_("owner"),
    )
    file = models.FileField(upload_to=audio_upload_to, max_length=255, verbose_name=_("file"))
    original_name = models.CharField(max_length=255, verbose_name=_("name"))
    content_hash = models.CharField(
        max_length=64, db_index=True, verbose_name=_("content hash (SHA-256)")
    )
    size_bytes = models.BigIntegerField(default=0, verbose_name=_("size (bytes)"))
    duration = models.FloatField(help_text=_("seconds"), verbose_name=_("duration"))
    sample_rate = models.PositiveIntegerField(verbose_name=_("sample rate"))
    channels = models.PositiveSmallIntegerField(default=1, verbose_name=_("channels"))
    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created")
    )

    # Set when deletion starts (mark, commit, delete files, delete rows): see jobs.storage.deletion.
    deleting_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("deletion started")
    )

    objects: ClassVar[OwnedQuerySet] = LiveOwnedManager()  # type: ignore[assignment]
    all_objects: ClassVar[OwnedQuerySet] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("audio clip")
        verbose_name_plural = _("audio clips")
        indexes = [models.Index(fields=["owner", "-created_at"], name="audio_owner_created")]

    def __str__(self) -> str:
        return self.original_name


class FaceStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for analysis")
    READY = "ready", _("Face found")
    FAILED = "failed", _("No usable face")


class Template(models.Model):
    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="templates",
        verbose_name=_("owner"),
    )
    file = models.FileField(upload_to=template_upload_to, max_length=255, verbose_name=_("file"))
    original_name = models.CharField(max_length=255, verbose_name=_("name"))
    content_hash = models.CharField(
        max_length=64, db_index=True, verbose_name=_("content hash (SHA-256)")
    )
    size_bytes = models.BigIntegerField(default=0, verbose_name=_("size (bytes)"))
    width = models.PositiveIntegerField(verbose_name=_("width"))
    height = models.PositiveIntegerField(verbose_name=_("height"))
    fps = models.FloatField(verbose_name=_("frames per second"))
    duration = models.FloatField(help_text=_("seconds"), verbose_name=_("duration"))
    thumbnail = models.FileField(
        upload_to=thumbnail_upload_to, max_length=255, blank=True, verbose_name=_("thumbnail")
    )
    face_status = models.CharField(
        max_length=16,
        choices=FaceStatus.choices,
        default=FaceStatus.PENDING,
        verbose_name=_("face status"),
    )
    face_error = models.TextField(blank=True, verbose_name=_("face error"))
    # What went wrong, as rendering.errors names it, so pages say it in the user's language.
    face_error_code = models.CharField(max_length=40, blank=True, verbose_name=_("face error code"))
    face_error_params = models.JSONField(
        default=dict, blank=True, verbose_name=_("face error parameters")
    )
    # The people face analysis found, best default speaker first: each is
    # rendering.faces.FaceCandidate.to_dict() plus "thumbnail", the stored name of a small
    # JPEG of that face. None until analysed; [] when no face was found.
    faces = models.JSONField(null=True, blank=True, editable=False, verbose_name=_("faces"))
    # Which of `faces` speaks (an index); None: the default, the best speaker (faces[0]).
    face_choice = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("face that speaks")
    )
    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created")
    )

    # Set when deletion starts (mark, commit, delete files, delete rows): see jobs.storage.deletion.
    deleting_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("deletion started")
    )

    objects: ClassVar[OwnedQuerySet] = LiveOwnedManager()  # type: ignore[assignment]
    all_objects: ClassVar[OwnedQuerySet] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        indexes = [models.Index(fields=["owner", "-created_at"], name="template_owner_created")]

    def __str__(self) -> str:
        return self.original_name

    @property
    def face_list(self) -> list[dict[str, Any]]:
        return list(self.faces or [])

    @property
    def speaker_index(self) -> int | None:
        """Index in `faces` of the face that speaks in new batches (None: no face listed)."""
        faces = self.face_list
        if not faces:
            return None
        choice = self.face_choice
        return choice if choice is not None and 0 <= choice < len(faces) else 0

    def face_thumbnail_names(self) -> list[str]:
        return [str(f["thumbnail"]) for f in self.face_list if f.get("thumbnail")]


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

    # Words (jobs.transcripts): asked for at batch start...
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
    # ([{"start", "end", "lines"}]), and why there are none (a code: jobs.transcripts).
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


# --- Webhooks -------------------------------------------------------------------------------


class WebhookEvent(models.TextChoices):
    BATCH_COMPLETED = "batch.completed", _("Batch completed")
    JOB_SUCCEEDED = "job.succeeded", _("Video done")
    JOB_FAILED = "job.failed", _("Video failed")


# Sent only by "Send test event"; never something a webhook subscribes to.
WEBHOOK_PING_EVENT = "ping"


class Webhook(models.Model):
    """A URL of the user's that receives signed event deliveries."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webhooks",
        verbose_name=_("owner"),
    )
    url = models.URLField(max_length=2000, verbose_name=_("URL"))
    # A list of WebhookEvent values; matched in Python (a user has a handful of webhooks),
    # which works the same on SQLite and PostgreSQL.
    events = models.JSONField(default=list, verbose_name=_("events"))
    # Kept in clear: we need it to sign every delivery, and the user may look at it again.
    secret = models.CharField(max_length=80, verbose_name=_("secret"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))

    objects: ClassVar[OwnedQuerySet] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("created_at",)
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        indexes = [models.Index(fields=["owner", "active"], name="webhook_owner_active")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDeliveryQuerySet(models.QuerySet["WebhookDelivery"]):
    def for_user(self, user: User) -> WebhookDeliveryQuerySet:
        return self.filter(webhook__owner=user)


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook, with the outcome of its last attempt."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    event = models.CharField(max_length=32, verbose_name=_("event"))
    event_id = models.CharField(max_length=40, verbose_name=_("event ID"))
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_status_code = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("last HTTP status")
    )
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered"))

    objects: ClassVar[WebhookDeliveryQuerySet] = WebhookDeliveryQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            # One event reaches one webhook once, however often its emission is replayed.
            models.UniqueConstraint(fields=["webhook", "event_id"], name="delivery_unique_event")
        ]
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} → {self.webhook_id}"


class Notice(models.Model):
    """Something the service did to a user's data on its own (quota cleanup, retention),
    shown once on their next page view."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notices",
        verbose_name=_("owner"),
    )
    message = models.TextField(verbose_name=_("message"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    shown_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shown"))

    class Meta:
        ordering = ("created_at",)
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        indexes = [models.Index(fields=["owner", "shown_at"], name="notice_owner_shown")]

    def __str__(self) -> str:
        return self.message[:80]


class ExportToken(models.Model):
    """A download link for a ZIP of some of a user's batches: an opaque random token (only its
    SHA-256 is stored), short-lived, listed on the owner's account page while valid, and
    revocable there by the owner or in the admin."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_tokens",
        verbose_name=_("owner"),
    )
    token_sha256 = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("token SHA-256")
    )
    # UUID strings, in the archive's order
    batch_ids = models.JSONField(default=list, verbose_name=_("batch IDs"))
    finished_only = models.BooleanField(default=False, verbose_name=_("finished videos only"))
    filename = models.CharField(max_length=255, verbose_name=_("file name"))
    # when the link was made
    size = models.BigIntegerField(default=0, verbose_name=_("size (bytes)"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    expires_at = models.DateTimeField(verbose_name=_("expires"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["owner", "expires_at"], name="export_owner_expires")]
        verbose_name = _("export link")
        verbose_name_plural = _("export links")

    def __str__(self) -> str:
        return f"{self.filename} ({self.owner_id})"

    def is_valid(self, now: Any = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())
