"""Safe deletion of batches, results, templates, audio and whole accounts.

Every deletion takes the same three steps, so a crash between any two of them never shows
the user half-deleted data and never leaves a file behind for good:

1. Mark: in one transaction, under the owner's row lock, set ``deleting_at`` on the rows
   (the default managers hide marked rows at once), cancel their queued or running jobs,
   and take their bytes off the owner's usage. Commit.
2. Delete their files. Deleting is idempotent: a file already gone is fine.
3. Delete the marked rows.

Steps 2 and 3 are `purge_marked`, run on commit after every mark and again by the sweeper
(jobs.storage.cleanup.sweep), which therefore finishes any deletion a crash interrupted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, Sum
from django.utils import timezone

from accounts.models import User
from accounts.services import user_lock
from jobs import selectors
from jobs.models import AudioClip, Batch, RenderJob, Template
from jobs.render import lifecycle
from jobs.storage.files import delete as delete_file
from jobs.storage.files import delete_prefix as delete_tree
from jobs.storage.usage import usage_add

log = logging.getLogger("heygem.jobs")


def _sum(qs: Any, field: str) -> int:
    return int(qs.aggregate(n=Sum(field))["n"] or 0)


# --- Step 1: mark ----------------------------------------------------------------------------


def batches_mark(*, owner_id: int, batch_ids: list[Any], now: datetime | None = None) -> int:
    """Mark live batches (and their jobs) of one owner; returns the bytes freed."""
    now = now or timezone.now()
    with transaction.atomic():
        user_lock(owner_id)
        ids = list(
            Batch.objects.filter(owner_id=owner_id, pk__in=batch_ids).values_list("pk", flat=True)
        )
        if not ids:
            return 0
        jobs = RenderJob.objects.filter(batch_id__in=ids)
        freed = _sum(jobs, "output_size")
        lifecycle.jobs_cancel(jobs, now=now)
        jobs.update(deleting_at=now)
        Batch.objects.filter(pk__in=ids).update(deleting_at=now)
        usage_add(user_id=owner_id, delta=-freed)
        _purge_on_commit(owner_id)
    return freed


def jobs_mark(*, owner_id: int, job_ids: list[Any], now: datetime | None = None) -> int:
    """Mark single results; their batches stay. Returns the bytes freed."""
    now = now or timezone.now()
    with transaction.atomic():
        user_lock(owner_id)
        jobs = RenderJob.objects.filter(batch__owner_id=owner_id, pk__in=job_ids)
        batch_ids = set(jobs.values_list("batch_id", flat=True))
        freed = _sum(jobs, "output_size")
        lifecycle.jobs_cancel(jobs, now=now)
        jobs.update(deleting_at=now)
        for batch_id in batch_ids:
            lifecycle.batch_finish_if_done(batch_id)
        usage_add(user_id=owner_id, delta=-freed)
        _purge_on_commit(owner_id)
    return freed


def templates_mark(
    *, owner_id: int, template_ids: list[Any], now: datetime | None = None, force: bool = False
) -> int:
    """Mark templates of the library. One used by a queued or running job is kept unless
    `force` (the whole account goes). Returns the bytes freed."""
    now = now or timezone.now()
    with transaction.atomic():
        user_lock(owner_id)
        templates = (
            Template.objects.filter(owner_id=owner_id)
            if force
            else selectors.templates_not_in_use(owner_id)
        ).filter(pk__in=template_ids)
        ids = list(templates.values_list("pk", flat=True))
        freed = _sum(Template.objects.filter(pk__in=ids), "size_bytes")
        Template.objects.filter(pk__in=ids).update(deleting_at=now)
        usage_add(user_id=owner_id, delta=-freed)
        _purge_on_commit(owner_id)
    return freed


def audio_mark(*, owner_id: int, audio_ids: list[Any], now: datetime | None = None) -> int:
    """Mark audio clips that no live batch uses (a batch needs its audio to be retried)."""
    now = now or timezone.now()
    with transaction.atomic():
        user_lock(owner_id)
        ids = list(
            selectors.audio_not_in_use(owner_id)
            .filter(pk__in=audio_ids)
            .values_list("pk", flat=True)
        )
        freed = _sum(AudioClip.objects.filter(pk__in=ids), "size_bytes")
        AudioClip.objects.filter(pk__in=ids).update(deleting_at=now)
        usage_add(user_id=owner_id, delta=-freed)
        _purge_on_commit(owner_id)
    return freed


def user_data_mark(*, owner_id: int, now: datetime | None = None) -> int:
    """Mark everything the user stores (the account stays). Returns the bytes freed."""
    now = now or timezone.now()
    with transaction.atomic():
        user_lock(owner_id)
        freed = batches_mark(
            owner_id=owner_id,
            batch_ids=list(Batch.objects.filter(owner_id=owner_id).values_list("pk", flat=True)),
            now=now,
        )
        freed += templates_mark(
            owner_id=owner_id,
            template_ids=list(
                Template.objects.filter(owner_id=owner_id).values_list("pk", flat=True)
            ),
            now=now,
            force=True,
        )
        freed += audio_mark(
            owner_id=owner_id,
            audio_ids=list(
                AudioClip.objects.filter(owner_id=owner_id).values_list("pk", flat=True)
            ),
            now=now,
        )
    return freed


def user_mark(*, user_id: int, now: datetime | None = None) -> None:
    """Start deleting an account: it cannot sign in from now on, its data is marked."""
    now = now or timezone.now()
    with transaction.atomic():
        user_data_mark(owner_id=user_id, now=now)
        User.objects.filter(pk=user_id).update(deleting_at=now, is_active=False)
        _purge_on_commit(user_id)


def _purge_on_commit(owner_id: int) -> None:
    transaction.on_commit(lambda: purge_marked(owner_id=owner_id))


# --- Steps 2 and 3: delete files, then rows ---------------------------------------------------


@dataclass
class Purged:
    jobs: int = 0
    batches: int = 0
    templates: int = 0
    audio: int = 0
    users: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{getattr(self, f.name)} {f.name}" for f in fields(self))


def purge_marked(*, owner_id: int | None = None) -> Purged:
    """Delete the files and then the rows of everything marked (of one owner, or of all).

    Safe to run any number of times, also concurrently: file deletion is idempotent and
    row deletion deletes what is still there.
    """
    done = Purged()
    scope: dict[str, Any] = {} if owner_id is None else {"owner_id": owner_id}

    jobs = RenderJob.all_objects.filter(deleting_at__isnull=False, batch__deleting_at__isnull=True)
    if owner_id is not None:
        jobs = jobs.filter(batch__owner_id=owner_id)
    for job_id, output in jobs.values_list("pk", "output"):
        delete_file(str(output) if output else None)
        done.jobs += RenderJob.all_objects.filter(pk=job_id).delete()[0]

    for batch in Batch.all_objects.filter(deleting_at__isnull=False, **scope).select_related(
        "owner"
    ):
        delete_tree(str(PurePosixPath(batch.owner.storage_prefix) / "batches" / batch.pk.hex))
        if Batch.all_objects.filter(pk=batch.pk).delete()[0]:
            done.batches += 1

    for template in Template.all_objects.filter(deleting_at__isnull=False, **scope):
        delete_file(template.file.name)
        delete_file(template.thumbnail.name)
        for name in template.face_thumbnail_names():
            delete_file(name)
        done.templates += Template.all_objects.filter(pk=template.pk).delete()[0]

    for clip in AudioClip.all_objects.filter(deleting_at__isnull=False, **scope):
        delete_file(clip.file.name)
        try:
            done.audio += AudioClip.all_objects.filter(pk=clip.pk).delete()[0]
        except ProtectedError:
            # A batch still uses it: marked only together with that batch, which goes first.
            log.warning("marked audio still used by a batch", extra={"audio_id": str(clip.pk)})

    users = User.objects.filter(deleting_at__isnull=False)
    if owner_id is not None:
        users = users.filter(pk=owner_id)
    for user in users:
        user_id = user.pk
        delete_tree(user.storage_prefix)
        with transaction.atomic():
            # Batches first: their audio is PROTECTed, so the account's cascade cannot
            # take both in one go.
            Batch.all_objects.filter(owner=user).delete()
            user.delete()
        done.users += 1
        log.info("account deleted", extra={"user_id": user_id})
    return done
