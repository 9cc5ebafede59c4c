"""Audio clips and templates: the user's library, and the tenant managers every model uses.

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
        # Stored once per owner and content (jobs.services.library: parallel identical
        # uploads); a clip being deleted does not block uploading it again.
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "content_hash"],
                condition=Q(deleting_at__isnull=True),
                name="audio_unique_content",
            )
        ]

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
    # Advice from the face check that does not stop a render (rendering.faces note codes,
    # e.g. "mouth_never_open"); pages word it in the user's language.
    face_note = models.CharField(max_length=40, blank=True, verbose_name=_("face note"))
    # The people face analysis found, best default speaker first: each is
    # rendering.faces.FaceCandidate.to_dict() plus "thumbnail", the stored name of a small
    # JPEG of that face. None until analysed; [] when no face was found.
    faces = models.JSONField(null=True, blank=True, editable=False, verbose_name=_("faces"))
    # Which of `faces` speaks (an index); None: the default, the best speaker (faces[0]).
    face_choice = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("face that speaks")
    )
    # The face check's bookkeeping (jobs.library.face_checks): when it was last asked for (None: no
    # check wanted), the heartbeat of the worker running it, and how many times it started.
    face_queued_at = models.DateTimeField(
        null=True, blank=True, editable=False, db_index=True, verbose_name=_("face check sent")
    )
    face_heartbeat_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("face check heartbeat")
    )
    face_attempts = models.PositiveSmallIntegerField(
        default=0, editable=False, verbose_name=_("face check attempts")
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
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "content_hash"],
                condition=Q(deleting_at__isnull=True),
                name="template_unique_content",
            )
        ]

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
