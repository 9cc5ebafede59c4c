"""Writes to the user's media library: audio and template uploads (probed, deduplicated,
counted against the quota) and the choice of which face speaks in a template."""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from accounts.services import user_lock
from heygem_site.formats import size_label
from jobs.library import face_checks
from jobs.library.uploads import media_limits
from jobs.models import (
    AudioClip,
    Template,
)
from jobs.names import clean_display_name
from jobs.storage import files, usage
from jobs.user_errors import error_text, media_error_text
from rendering.cache import file_sha256
from rendering.errors import MediaError

log = logging.getLogger("heygem.jobs")

_Upload = TypeVar("_Upload", AudioClip, Template)


# --- Uploads --------------------------------------------------------------------------------


def _uploaded_path(uploaded: UploadedFile) -> Path:
    path = getattr(uploaded, "temporary_file_path", None)
    if path is None:  # FILE_UPLOAD_HANDLERS always spools to disk; keep that promise loud.
        raise RuntimeError("uploads must be spooled to a temporary file")
    return Path(path())


def _too_big(uploaded: UploadedFile) -> None:
    if uploaded.size is not None and uploaded.size > settings.MAX_UPLOAD_SIZE:
        raise ValidationError(
            _(
                "This file is %(size)s; the upload limit is %(limit)s. Upload a shorter or smaller file."
            )
            % {"size": size_label(uploaded.size), "limit": size_label(settings.MAX_UPLOAD_SIZE)},
            code="too_large",
        )


def _media_error(exc: Exception) -> ValidationError:
    return ValidationError(media_error_text(exc), code=getattr(exc, "code", "invalid"))


def _probed_upload(
    *, owner: User, uploaded: UploadedFile, probe: Any, max_duration: float, model: Any, what: str
) -> tuple[Path, Any, str, Any]:
    """Size check, probe and content hash of an upload, before anything is kept.

    Returns (temporary path, media info, content hash, the user's row with that content or None).
    """
    _too_big(uploaded)
    path = _uploaded_path(uploaded)
    try:
        info = probe(path, limits=media_limits(max_duration=max_duration))
    except MediaError as exc:
        log.info(f"{what} rejected", extra={"user_id": owner.pk, "reason": exc.message})
        raise _media_error(exc) from exc
    digest = file_sha256(path)
    return path, info, digest, model.objects.for_user(owner).filter(content_hash=digest).first()


def audio_upload(*, owner: User, uploaded: UploadedFile) -> AudioClip:
    """Probe an uploaded audio (or video with an audio track) and keep it.

    The same content uploaded again returns the clip already stored.
    """
    from rendering.media import probe_audio  # PyAV: loaded by an upload, not by every page

    path, info, digest, existing = _probed_upload(
        owner=owner,
        uploaded=uploaded,
        probe=probe_audio,
        max_duration=settings.MAX_AUDIO_SECONDS,
        model=AudioClip,
        what="audio",
    )
    if info.duration < settings.MIN_AUDIO_SECONDS:
        # A 50 ms file made a 10 KB "Done" video: too short to speak anything, so say so.
        log.info("audio rejected", extra={"user_id": owner.pk, "reason": "too short"})
        raise ValidationError(
            error_text(
                "audio_too_short",
                {"seconds": info.duration, "minimum": settings.MIN_AUDIO_SECONDS},
                "",
            ),
            code="audio_too_short",
        )
    if existing is not None:
        return existing
    clip = AudioClip(
        owner=owner,
        original_name=clean_display_name(uploaded.name or "", fallback="audio"),
        content_hash=digest,
        size_bytes=path.stat().st_size,
        duration=info.duration,
        sample_rate=info.audio.sample_rate,
        channels=info.audio.channels,
    )
    stored = _save_with_file(clip, "file", uploaded.name or "audio", path)
    if stored is not clip:
        return stored  # the same content, stored by a parallel upload meanwhile
    log.info("audio uploaded", extra={"user_id": owner.pk, "audio_id": str(clip.pk)})
    return clip


def template_upload(*, owner: User, uploaded: UploadedFile) -> Template:
    """Probe an uploaded template video, keep it with a thumbnail, and queue its face analysis."""
    from rendering.media import probe_video  # PyAV: loaded by an upload, not by every page

    path, info, digest, existing = _probed_upload(
        owner=owner,
        uploaded=uploaded,
        probe=probe_video,
        max_duration=settings.MAX_TEMPLATE_SECONDS,
        model=Template,
        what="template",
    )
    if existing is not None:
        return existing
    template = Template(
        owner=owner,
        original_name=clean_display_name(uploaded.name or "", fallback="template"),
        content_hash=digest,
        size_bytes=path.stat().st_size,
        width=info.video.width,
        height=info.video.height,
        fps=info.video.fps,
        duration=info.duration,
    )
    stored = _save_with_file(
        template, "file", uploaded.name or "template", path, thumbnail_from=path
    )
    if stored is not template:
        return stored  # the same content, stored by a parallel upload meanwhile
    face_checks.template_check_send(template_id=template.pk)
    log.info("template uploaded", extra={"user_id": owner.pk, "template_id": str(template.pk)})
    return template


def template_face_choose(*, template: Template, face: int | None) -> Template:
    """Choose which of a template's faces speaks in new batches (None: the default, the best
    speaker). Finished results are untouched; the face is tracked again in the background,
    so the next render finds it ready."""
    faces = template.face_list
    if face is not None:
        if not faces:
            raise ValidationError(
                _(
                    "This template's faces have not been found yet. Wait for its face check to finish."
                )
            )
        if not 0 <= face < len(faces):
            raise ValidationError(
                ngettext(
                    "This template shows %(n)d face; pick it or leave the default.",
                    "This template shows %(n)d faces; pick one of them.",
                    len(faces),
                )
                % {"n": len(faces)}
            )
    with transaction.atomic():
        updated = Template.objects.filter(pk=template.pk).update(face_choice=face)
        if updated and template.face_choice != face and faces:
            face_checks.template_check_send(template_id=template.pk)
    template.face_choice = face
    log.info(
        "template face chosen",
        extra={"user_id": template.owner_id, "template_id": str(template.pk), "face": face},
    )
    return template


def _save_with_file(
    row: _Upload,
    field: str,
    original: str,
    source: Path,
    *,
    thumbnail_from: Path | None = None,
) -> _Upload:
    """Copy the file into the user's folder and save the row; on any failure remove what was
    written. Stored once per owner and content: when a parallel upload of the same content
    saved its row first (found under the owner's lock, or refused by the database's
    constraint ``*_unique_content``), that row is returned and this copy removed."""
    from rendering.media import write_thumbnail  # PyAV: loaded by an upload, not by every page

    # Refuse before copying anything; the exact check is repeated under the lock below.
    usage.storage_check(
        user=usage.fresh_user(row.owner_id, lock=False), needed=row.size_bytes, what=_("this file")
    )
    written: list[str] = []
    try:
        with source.open("rb") as handle:
            getattr(row, field).save(original, File(handle), save=False)
        stored = str(getattr(row, field).name)
        written.append(stored)
        if thumbnail_from is not None and isinstance(row, Template):
            thumb_name = str(PurePosixPath(stored).with_suffix(".thumb.jpg"))
            with files.scratch_file(suffix=".jpg") as scratch:
                write_thumbnail(thumbnail_from, scratch)
                files.put(scratch, thumb_name, content_type="image/jpeg")
            row.thumbnail.name = thumb_name
            written.append(thumb_name)
        with transaction.atomic():
            # The owner's row lock makes check + save + usage one step for parallel uploads.
            locked = user_lock(row.owner_id)
            twin = _stored_twin(row)
            if twin is None:
                usage.storage_check(user=locked, needed=row.size_bytes, what=_("this file"))
                try:
                    with transaction.atomic():  # a savepoint: the constraint's refusal is kept in
                        row.save()
                except IntegrityError:
                    twin = _stored_twin(row)
                    if twin is None:
                        raise
                else:
                    usage.usage_add(user_id=row.owner_id, delta=row.size_bytes)
    except BaseException:
        for name in written:
            files.delete(name)
        raise
    if twin is not None:
        for name in written:
            files.delete(name)
        log.info("upload stored once", extra={"user_id": row.owner_id, "id": str(twin.pk)})
        return twin
    return row


def _stored_twin(row: _Upload) -> Any:
    """The owner's live row with the same content as `row`, or None."""
    return (
        type(row)
        .objects.filter(owner_id=row.owner_id, content_hash=row.content_hash)
        .exclude(pk=row.pk)
        .first()
    )
