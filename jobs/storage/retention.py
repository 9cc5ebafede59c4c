"""Retention: batches (with their results) and uploads older than the owner's retention
period are deleted. Runs from the hourly maintenance schedule (jobs.storage.cleanup.maintenance_run);
the history page shows each batch's "expires in N days" from the same rule
(jobs.selectors.batch_expires_at).

Never removed here: a batch with a queued or running video, a template a queued or running
video uses, an audio clip a kept batch uses (a retry needs it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from accounts.models import User
from heygem_site.formats import size_label
from jobs import selectors
from jobs.models import ACTIVE_STATUSES, Batch, Notice
from jobs.storage import deletion

log = logging.getLogger("heygem.jobs")


@dataclass
class RetentionResult:
    batches: int = 0
    templates: int = 0
    audio: int = 0
    freed_bytes: int = 0

    def __str__(self) -> str:
        return (
            f"{self.batches} batches, {self.templates} templates, {self.audio} audio clips "
            f"({size_label(self.freed_bytes)})"
        )


def retention_apply(*, now: datetime | None = None, user_id: int | None = None) -> RetentionResult:
    """Delete what has outlived its owner's retention period (all users, or one).

    `now` is the clock (tests pass a later one rather than patching time).
    """
    now = now or timezone.now()
    total = RetentionResult()
    users = User.objects.filter(deleting_at__isnull=True)
    if user_id is not None:
        users = users.filter(pk=user_id)
    for user in users.only("pk", "retention_days").iterator():
        cutoff = now - timedelta(days=user.retention_days)
        mine = RetentionResult()
        batch_ids = list(
            Batch.objects.filter(owner_id=user.pk, created_at__lt=cutoff)
            .exclude(jobs__status__in=ACTIVE_STATUSES)
            .values_list("pk", flat=True)
        )
        if batch_ids:
            mine.freed_bytes += deletion.batches_mark(
                owner_id=user.pk, batch_ids=batch_ids, now=now
            )
            mine.batches = len(batch_ids)
        template_ids = list(
            selectors.templates_not_in_use(user.pk)
            .filter(created_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
        if template_ids:
            mine.freed_bytes += deletion.templates_mark(
                owner_id=user.pk, template_ids=template_ids, now=now
            )
            mine.templates = len(template_ids)
        audio_ids = list(
            selectors.audio_not_in_use(user.pk)
            .filter(created_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
        if audio_ids:
            mine.freed_bytes += deletion.audio_mark(owner_id=user.pk, audio_ids=audio_ids, now=now)
            mine.audio = len(audio_ids)
        if mine.batches or mine.templates or mine.audio:
            # Written once, in the language the user chose (the notice is stored as text).
            with translation.override(user.language or settings.LANGUAGE_CODE):
                what = gettext(", ").join(
                    text % {"n": n}
                    for n, text in (
                        (mine.batches, ngettext("%(n)d batch", "%(n)d batches", mine.batches)),
                        (
                            mine.templates,
                            ngettext("%(n)d template", "%(n)d templates", mine.templates),
                        ),
                        (mine.audio, ngettext("%(n)d audio clip", "%(n)d audio clips", mine.audio)),
                    )
                    if n
                )
                message = ngettext(
                    "Your files are kept for %(days)d day, so we removed %(what)s (%(size)s) that were older.",
                    "Your files are kept for %(days)d days, so we removed %(what)s (%(size)s) that were older.",
                    user.retention_days,
                ) % {
                    "days": user.retention_days,
                    "what": what,
                    "size": size_label(mine.freed_bytes),
                }
            Notice.objects.create(owner_id=user.pk, message=message)
            log.info(
                "retention applied",
                extra={"user_id": user.pk, "batches": mine.batches, "bytes": mine.freed_bytes},
            )
        total.batches += mine.batches
        total.templates += mine.templates
        total.audio += mine.audio
        total.freed_bytes += mine.freed_bytes
    return total
