"""Storage quota checks and usage recomputation.

Checks run inside the caller's transaction after it has locked the owner's row
(accounts.services.user_lock), so parallel uploads and batch starts of one user queue behind
each other and can never together pass the quota. Videos still queued or rendering count
with their estimated size, so two batches started at once cannot both spend the same space.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import user_lock
from heygem_site.formats import size_label
from jobs.models import ACTIVE_STATUSES, AudioClip, JobStatus, RenderJob, Template
from jobs.storage import files

log = logging.getLogger("heygem.jobs")


def reserved_bytes(*, owner_id: int) -> int:
    """Space set aside for the results of the owner's queued and running videos."""
    return int(
        RenderJob.objects.filter(batch__owner_id=owner_id, status__in=ACTIVE_STATUSES).aggregate(
            n=Sum("estimated_output_bytes")
        )["n"]
        or 0
    )


# What the engines' encoder writes (rendering.media.encode.VideoWriter with the engines'
# default crf): H.264 at crf 18, AAC at 128 kb/s mono or 192 kb/s stereo, MP4.
ENCODER_CRF = 18
AUDIO_BITS_PER_SECOND = {1: 128_000, 2: 192_000}
# Bits per pixel per frame that libx264 spends at crf 18 (veryfast) on footage of a person:
# ~0.08 measured on the test fixtures re-encoded whole, 0.1-0.13 on phone footage. The
# larger value, with room: a first render must not overrun the quota it was admitted under.
BITS_PER_PIXEL = 0.15
# MP4 boxes (moov, sample tables: ~16 bytes a frame) and a fixed part.
CONTAINER_BYTES = 8_000
CONTAINER_BYTES_PER_FRAME = 16
# A template's measured results (bytes per second) vary with the audio (how much the mouth
# moves) by a few percent; the room kept over the largest one seen.
MEASURED_MARGIN = 1.15


def encoder_estimate(*, width: int, height: int, fps: float, seconds: float, channels: int) -> int:
    """What the encoder will write for `seconds` of video of this size, from its settings."""
    frames = max(fps, 1.0) * max(seconds, 0.1)
    video = width * height * frames * BITS_PER_PIXEL / 8
    audio = AUDIO_BITS_PER_SECOND[2 if channels >= 2 else 1] * max(seconds, 0.1) / 8
    return int(video + audio + CONTAINER_BYTES + CONTAINER_BYTES_PER_FRAME * frames)


def measured_bytes_per_second(*, template_id: Any) -> float | None:
    """The largest bytes per second of this template's last results, or None before its
    first render (a render of a template weighs about the same whatever the audio)."""
    rates = [
        size / float(duration or 1.0)  # the filter excludes rows without a duration
        for size, duration in RenderJob.objects.filter(
            template_id=template_id,
            status=JobStatus.SUCCEEDED,
            output_size__gt=0,
            output_duration__gt=0,
        )
        .order_by("-finished_at")
        .values_list("output_size", "output_duration")[:5]
    ]
    return max(rates) if rates else None


def estimate_output_bytes(*, audio: AudioClip, template: Template) -> int:
    """What a render of `template` speaking `audio` will weigh: as long as the audio, at the
    template's measured rate once it has been rendered, else from the encoder's settings."""
    seconds = max(audio.duration, 0.1)
    measured = measured_bytes_per_second(template_id=template.pk)
    if measured is not None:
        return int(measured * seconds * MEASURED_MARGIN) + CONTAINER_BYTES
    return encoder_estimate(
        width=template.width,
        height=template.height,
        fps=template.fps,
        seconds=seconds,
        channels=audio.channels,
    )


def estimates_correct(*, template_id: Any) -> int:
    """A render of this template finished: its queued videos reserve what it measured
    (up or down). Running ones keep what they started under. Returns how many moved."""
    moved = 0
    for job in RenderJob.objects.filter(
        template_id=template_id, status=JobStatus.QUEUED
    ).select_related("batch__audio", "template"):
        assert job.template is not None
        estimate = estimate_output_bytes(audio=job.batch.audio, template=job.template)
        if estimate != job.estimated_output_bytes:
            moved += RenderJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                estimated_output_bytes=estimate
            )
    return moved


def job_start_check(*, job: RenderJob) -> dict[str, str] | None:
    """Just before a render: reserve the job's current estimate (corrected by what earlier
    results measured) and, when the owner's quota no longer has room for it, return the
    parameters of the failure ``quota_at_start`` (worded by jobs.user_errors); else None."""
    assert job.template is not None
    with transaction.atomic():
        user = user_lock(job.batch.owner_id)
        estimate = estimate_output_bytes(audio=job.batch.audio, template=job.template)
        RenderJob.objects.filter(pk=job.pk).update(estimated_output_bytes=estimate)
        job.estimated_output_bytes = estimate
        others = reserved_bytes(owner_id=user.pk) - estimate
        used, quota = user.storage_used_bytes, user.storage_quota_bytes
        if used + others + estimate <= quota:
            return None
    log.info(
        "render refused: quota",
        extra={"user_id": user.pk, "job_id": str(job.pk), "needed": estimate, "used": used},
    )
    return {
        "needed": size_label(estimate),
        "free": size_label(max(quota - used - others, 0)),
        "quota": size_label(quota),
    }


def storage_check(*, user: User, needed: int, what: str) -> None:
    """Refuse with the numbers when `needed` more bytes would not fit in the user's quota.

    `user` must be a fresh row (locked by the caller when the check must be exact).
    """
    reserved = reserved_bytes(owner_id=user.pk)
    used = user.storage_used_bytes
    quota = user.storage_quota_bytes
    if used + reserved + needed <= quota:
        return
    pending = (
        _(" (plus about %(reserved)s set aside for videos still rendering)")
        % {"reserved": size_label(reserved)}
        if reserved
        else ""
    )
    log.info(
        "quota refused",
        extra={"user_id": user.pk, "used": used, "reserved": reserved, "needed": needed},
    )
    # Rounded sizes alone ("20.8 MB of 23.8 MB (plus 2.8 MB); needs 125.6 KB") can read as
    # if it fits: say how much is free and how much is missing, each computed exactly.
    free = max(quota - used - reserved, 0)
    short = used + reserved + needed - quota
    raise ValidationError(
        _(
            "You are using %(used)s of %(quota)s%(pending)s, so %(free)s is free; %(what)s "
            "needs about %(needed)s, %(short)s more than is free. Delete older batches or "
            "templates to make room, or ask us for a larger quota."
        )
        % {
            "used": size_label(used),
            "quota": size_label(quota),
            "pending": pending,
            "free": size_label(free),
            "what": what,
            "needed": size_label(needed),
            "short": size_label(short),
        },
        code="over_quota",
    )


def fresh_user(user_id: int, *, lock: bool) -> User:
    """The user's row as it is now (the counters move in other requests), locked with
    accounts.services.user_lock when `lock`."""
    return user_lock(user_id) if lock else User.objects.get(pk=user_id)


def usage_add(*, user_id: int, delta: int) -> None:
    """Move a user's stored-bytes counter, inside the caller's transaction.

    Usage counts what the user stores and can delete: audio, templates and results
    (thumbnails and caches are ours). It is always the sum of those rows' sizes.
    """
    if delta:
        User.objects.filter(pk=user_id).update(storage_used_bytes=F("storage_used_bytes") + delta)


# --- Recomputing usage from disk -------------------------------------------------------------


@dataclass(frozen=True)
class UsageDrift:
    user_id: int
    email: str
    recorded: int
    on_disk: int
    rows_fixed: int

    @property
    def drift(self) -> int:
        return self.recorded - self.on_disk


def usage_recompute(*, user_id: int, fix: bool) -> UsageDrift:
    """Measure what the user's live rows weigh on disk and compare with the counter.

    With `fix`, each row's size is set to its file's size (0 for a missing file; the
    sweeper deals with the row) and the counter to their sum, under the user's lock.
    """
    with transaction.atomic():
        user = fresh_user(user_id, lock=fix)
        on_disk = 0
        fixed = 0
        sources: list[tuple[Any, str, str]] = [
            (AudioClip.objects.filter(owner_id=user_id), "file", "size_bytes"),
            (Template.objects.filter(owner_id=user_id), "file", "size_bytes"),
            (
                RenderJob.objects.filter(batch__owner_id=user_id).exclude(output=""),
                "output",
                "output_size",
            ),
        ]
        for qs, file_field, size_field in sources:
            for pk, name, recorded in qs.values_list("pk", file_field, size_field):
                size = files.size(name)
                on_disk += size
                if fix and size != recorded:
                    qs.model.all_objects.filter(pk=pk).update(**{size_field: size})
                    fixed += 1
        if fix:
            type(user).objects.filter(pk=user_id).update(storage_used_bytes=on_disk)
    return UsageDrift(
        user_id=user_id,
        email=user.email,
        recorded=user.storage_used_bytes,
        on_disk=on_disk,
        rows_fixed=fixed,
    )


# --- Retries ---------------------------------------------------------------------------------


def retry_check(*, user: User, jobs: Any, what: str) -> None:
    """Refuse with the numbers when putting `jobs` back in the queue would pass the user's
    concurrent-jobs limit or storage quota, as starting them in a new batch would.

    `user` must be the owner's row locked by the caller; `jobs` are the finished jobs about
    to be requeued (their old results, if any, are freed by the retry, so they do not count).
    """
    n = jobs.count()
    if not n:
        return
    active = RenderJob.objects.filter(batch__owner_id=user.pk, status__in=ACTIVE_STATUSES).count()
    if active + n > user.max_concurrent_jobs:
        log.info(
            "retry refused: concurrent jobs",
            extra={"user_id": user.pk, "active": active, "adds": n},
        )
        raise ValidationError(
            _(
                "You have %(active)d videos queued or rendering and your limit is %(limit)d at "
                "once; %(what)s adds %(n)d. Wait for some to finish, then retry."
            )
            % {"active": active, "limit": user.max_concurrent_jobs, "what": what, "n": n}
        )
    totals = jobs.aggregate(needed=Sum("estimated_output_bytes"), freed=Sum("output_size"))
    needed = int(totals["needed"] or 0) - int(totals["freed"] or 0)
    if needed > 0:
        storage_check(user=user, needed=needed, what=what)
