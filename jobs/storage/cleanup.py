"""Quota-based cleanup, the sweeper, and the hourly maintenance run that calls them
together with retention (jobs.storage.retention)."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from accounts.models import User
from accounts.services import user_lock
from heygem_site.formats import size_label
from jobs import selectors
from jobs.housekeeping import HousekeepingResult, housekeeping_run
from jobs.models import (
    ACTIVE_STATUSES,
    AudioClip,
    JobStatus,
    Notice,
    RenderJob,
    Template,
)
from jobs.storage import deletion, files
from jobs.storage.leftovers import Leftovers, leftovers_sweep
from jobs.storage.retention import RetentionResult, retention_apply
from jobs.storage.usage import usage_add
from jobs.user_errors import english

log = logging.getLogger("heygem.jobs")


# --- Quota-based cleanup ---------------------------------------------------------------------


@dataclass
class QuotaCleanup:
    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    still_over: bool = False


def _counted(n_results: int, n_templates: int, n_audio: int) -> str:
    parts = [
        text % {"n": n}
        for n, text in (
            (n_results, ngettext("%(n)d older result", "%(n)d older results", n_results)),
            (n_templates, ngettext("%(n)d template", "%(n)d templates", n_templates)),
            (n_audio, ngettext("%(n)d audio file", "%(n)d audio files", n_audio)),
        )
        if n
    ]
    return gettext(", ").join(parts)


def _notice_period() -> timedelta:
    return timedelta(hours=float(settings.QUOTA_NOTICE_HOURS))


def _removable(user_id: int, now: datetime) -> list[Any]:
    """What quota cleanup may remove, oldest first: finished results older than the notice
    period (a result the service accepted to make is never removed to pay for its own
    estimate), then uploads that no queued or running video uses."""
    young = now - _notice_period()
    results = list(
        RenderJob.objects.filter(
            batch__owner_id=user_id, status=JobStatus.SUCCEEDED, finished_at__lte=young
        )
        .exclude(output="")
        .select_related("batch")
        .order_by(F("finished_at").asc(nulls_first=True), "created_at", "position")
    )
    uploads = [
        row
        for row in list(selectors.templates_not_in_use(user_id))
        + list(selectors.audio_not_in_use(user_id))
        if row.created_at <= young
    ]
    uploads.sort(key=lambda row: row.created_at)
    return results + uploads


def _kind(row: Any) -> str:
    if isinstance(row, RenderJob):
        return "result"
    return "template" if isinstance(row, Template) else "audio"


def _label(row: Any) -> str:
    if isinstance(row, RenderJob):
        return f"{row.batch.name}: {row.template_name}"
    return str(row.original_name)


def _size(row: Any) -> int:
    return int(row.output_size if isinstance(row, RenderJob) else row.size_bytes)


def _names(labels: list[str]) -> str:
    names = gettext("; ").join(labels[:10])
    if len(labels) > 10:
        names += gettext("; and %(n)d more") % {"n": len(labels) - 10}
    return names


def _open_warning(user_id: int) -> Notice | None:
    return (
        Notice.objects.filter(owner_id=user_id, planned__isnull=False, due_at__isnull=False)
        .order_by("-created_at")
        .first()
    )


def quota_cleanup(
    *, user_id: int, now: datetime | None = None, warn_first: bool = False
) -> QuotaCleanup:
    """Bring a user who is over their storage quota back under it, and tell them.

    1. Under the user's lock, read their usage; nothing to do when it fits (an open
       warning is then closed).
    2. With ``warn_first`` (the hourly run): without an open warning, leave a notice naming
       what will go and when (``QUOTA_NOTICE_HOURS`` from now), and remove nothing; with
       one that is due, remove only what it named and is still there, oldest first.
       Without it (staff lowered the quota or ran the admin action): remove at once.
    3. Either way only what ``_removable`` allows: finished results older than the notice
       period, oldest first, then uploads no queued or running video uses.
    4. Leave a notice listing what was removed; it shows on their next page.
    """
    now = now or timezone.now()
    result = QuotaCleanup()
    with transaction.atomic():
        user = user_lock(user_id)
        excess = user.storage_used_bytes - user.storage_quota_bytes
        warning = _open_warning(user_id)
        if excess <= 0:
            if warning is not None:
                Notice.objects.filter(pk=warning.pk).update(planned=None)
            return result
        candidates = _removable(user_id, now)
        if warn_first and warning is None:
            _warn(user, candidates, excess=excess, now=now)
            return result
        if warn_first:
            assert warning is not None and warning.due_at is not None
            if warning.due_at > now:
                return result
            told = {(kind, str(pk)) for kind, pk in warning.planned or []}
            candidates = [row for row in candidates if (_kind(row), str(row.pk)) in told]
            Notice.objects.filter(pk=warning.pk).update(planned=None)
        chosen: list[Any] = []
        for row in candidates:
            if result.freed_bytes >= excess:
                break
            chosen.append(row)
            result.freed_bytes += _size(row)
            result.removed.append(_label(row))
        ids = {
            kind: [r.pk for r in chosen if _kind(r) == kind]
            for kind in ("result", "template", "audio")
        }
        deletion.jobs_mark(owner_id=user_id, job_ids=ids["result"], now=now)
        deletion.templates_mark(owner_id=user_id, template_ids=ids["template"], now=now)
        deletion.audio_mark(owner_id=user_id, audio_ids=ids["audio"], now=now)
        result.still_over = result.freed_bytes < excess

        if result.removed:
            # Written once, in the language the user chose (the notice is stored as text).
            with translation.override(user.language or settings.LANGUAGE_CODE):
                message = gettext(
                    "Your storage was over your %(quota)s quota, so we removed %(what)s "
                    "(%(size)s): %(names)s."
                ) % {
                    "quota": size_label(user.storage_quota_bytes),
                    "what": _counted(len(ids["result"]), len(ids["template"]), len(ids["audio"])),
                    "size": size_label(result.freed_bytes),
                    "names": _names(result.removed),
                }
            Notice.objects.create(owner_id=user_id, message=message)
    log.info(
        "quota cleanup",
        extra={"user_id": user_id, "removed": len(result.removed), "bytes": result.freed_bytes},
    )
    return result


def _warn(user: User, candidates: list[Any], *, excess: int, now: datetime) -> None:
    """Tell the user what the hourly cleanup will remove, and from when, unless they make
    room first: the oldest removable items that free `excess`."""
    planned: list[Any] = []
    freed = 0
    for row in candidates:
        if freed >= excess:
            break
        planned.append(row)
        freed += _size(row)
    due = now + _notice_period()
    with translation.override(user.language or settings.LANGUAGE_CODE):
        what = (
            gettext("we will remove %(names)s (%(size)s)")
            % {"names": _names([_label(r) for r in planned]), "size": size_label(freed)}
            if planned
            else gettext("nothing can be removed yet (every result is newer than the notice)")
        )
        message = gettext(
            "Your storage is %(excess)s over your %(quota)s quota. Unless you delete older "
            "batches or templates before %(due)s UTC, %(what)s."
        ) % {
            "excess": size_label(excess),
            "quota": size_label(user.storage_quota_bytes),
            "due": due.strftime("%Y-%m-%d %H:%M"),
            "what": what,
        }
    Notice.objects.create(
        owner_id=user.pk,
        message=message,
        planned=[[_kind(r), str(r.pk)] for r in planned],
        due_at=due,
    )
    log.info("quota warning", extra={"user_id": user.pk, "planned": len(planned), "bytes": freed})


def quota_cleanup_all(*, now: datetime | None = None) -> int:
    """The hourly run: warn each user over quota, then (once the warning is due) remove what
    it named; close the warnings of users who fit again. Returns how many items were removed."""
    removed = 0
    over = User.objects.filter(
        deleting_at__isnull=True, storage_used_bytes__gt=F("storage_quota_bytes")
    ).values_list("pk", flat=True)
    warned = Notice.objects.filter(planned__isnull=False, due_at__isnull=False).values_list(
        "owner_id", flat=True
    )
    for user_id in sorted(set(over) | set(warned)):
        removed += len(quota_cleanup(user_id=user_id, now=now, warn_first=True).removed)
    return removed


# --- Sweeper ---------------------------------------------------------------------------------


@dataclass
class SweepResult:
    purged: deletion.Purged
    lost_results: int = 0
    lost_uploads: int = 0
    orphan_files: int = 0
    orphan_bytes: int = 0
    leftovers: Leftovers = field(default_factory=Leftovers)

    def __str__(self) -> str:
        return (
            f"purged {self.purged}; rows whose file was gone: {self.lost_results} results, "
            f"{self.lost_uploads} uploads; orphan files removed: {self.orphan_files} "
            f"({size_label(self.orphan_bytes)}); leftover working files removed: "
            f"{self.leftovers.files} ({size_label(self.leftovers.bytes)})"
        )


def _missing(name: str | None) -> bool:
    return not name or not files.exists(name)


def sweep(*, now: datetime | None = None) -> SweepResult:
    """Make rows and files agree again.

    1. Finish every interrupted deletion (marked rows: files, then rows).
    2. Rows whose file is gone: a lost result makes its job failed (with a sentence, so it
       can be retried); a lost upload is deleted like any other.
    3. Files with no row, older than ORPHAN_FILE_GRACE seconds by `now` (younger ones may
       belong to an upload or a render that has not saved its row yet), are removed, and
       so are empty folders. Folders of batches with a running job are left alone.
    4. This host's working files that no live process holds (jobs.storage.leftovers).
    """
    now = now or timezone.now()
    result = SweepResult(purged=deletion.purge_marked())

    for job in RenderJob.objects.filter(status=JobStatus.SUCCEEDED).exclude(output=""):
        if not _missing(job.output.name):
            continue
        with transaction.atomic():
            user_lock(job.batch.owner_id)
            if RenderJob.objects.filter(pk=job.pk, output=job.output.name).update(
                status=JobStatus.FAILED,
                error_code="output_missing",
                error_params={},
                error_message=english("output_missing"),
                output="",
                output_size=0,
            ):
                usage_add(user_id=job.batch.owner_id, delta=-job.output_size)
                result.lost_results += 1
    for template in Template.objects.all():
        if _missing(template.file.name):
            deletion.templates_mark(
                owner_id=template.owner_id, template_ids=[template.pk], now=now, force=True
            )
            result.lost_uploads += 1
    for clip in AudioClip.objects.all():
        if _missing(clip.file.name) and deletion.audio_mark(
            owner_id=clip.owner_id, audio_ids=[clip.pk], now=now
        ):
            result.lost_uploads += 1
    deletion.purge_marked()

    _sweep_orphans(result, now=now)
    result.leftovers = leftovers_sweep()
    return result


def _sweep_orphans(result: SweepResult, *, now: datetime) -> None:
    """Files under users/ with no row. The listing is read a page at a time (on object
    storage, 1000 keys a request) in name order, so one user's files come together and
    their rows are read once per user, not once per file."""
    horizon = now - timedelta(seconds=settings.ORPHAN_FILE_GRACE)
    owners = dict(User.objects.values_list("storage_id", "pk"))
    folder: str | None = None
    known: set[str] = set()
    busy: set[str] = set()
    all_busy: set[str] = set()
    for item in files.iter_files("users", symlinks=True):
        parts = item.name.split("/")
        if len(parts) < 3:
            continue
        if parts[1] != folder:
            folder = parts[1]
            known, busy = _in_use(folder, owners.get(folder))
            all_busy |= busy
        if item.name in known or any(item.name.startswith(b + "/") for b in busy):
            continue
        if item.modified > horizon:
            continue
        files.delete_listed(item.name)
        result.orphan_files += 1
        result.orphan_bytes += item.size
    files.remove_empty_folders("users", keep=all_busy | {"users"})
    if result.orphan_files:
        log.warning(
            "orphan files removed",
            extra={"files": result.orphan_files, "bytes": result.orphan_bytes},
        )


def _in_use(folder: str, owner_id: Any) -> tuple[set[str], set[str]]:
    """A user folder's names that rows point at, and its batch folders with a job running."""
    known: set[str] = set()
    if owner_id is None:
        return known, set()
    for qs, names in (
        (AudioClip.all_objects.filter(owner_id=owner_id), ("file",)),
        (Template.all_objects.filter(owner_id=owner_id), ("file", "thumbnail")),
        (RenderJob.all_objects.filter(batch__owner_id=owner_id), ("output",)),
    ):
        for row in qs.values_list(*names):
            known.update(str(n) for n in row if n)
    for template in Template.all_objects.filter(owner_id=owner_id).only("faces"):
        known.update(template.face_thumbnail_names())
    busy = {
        f"users/{folder}/batches/{batch_id.hex}"
        for batch_id in RenderJob.objects.filter(
            batch__owner_id=owner_id, status__in=ACTIVE_STATUSES
        ).values_list("batch_id", flat=True)
    }
    return known, busy


# --- The hourly run, its schedule, and notices -----------------------------------------------


@dataclass
class MaintenanceResult:
    retention: RetentionResult
    quota_removed: int
    sweep: SweepResult
    housekeeping: HousekeepingResult = field(default_factory=HousekeepingResult)

    def __str__(self) -> str:
        return (
            f"retention: {self.retention}; quota cleanup: {self.quota_removed} items removed; "
            f"sweep: {self.sweep}; housekeeping: {self.housekeeping}"
        )


def maintenance_run(*, now: datetime | None = None) -> MaintenanceResult:
    """Retention, then quota cleanup, then the sweep (which also finishes their deletions),
    then the webhook and API tables (jobs.housekeeping)."""
    now = now or timezone.now()
    retention = retention_apply(now=now)
    removed = quota_cleanup_all(now=now)
    swept = sweep(now=now)
    return MaintenanceResult(
        retention=retention,
        quota_removed=removed,
        sweep=swept,
        housekeeping=housekeeping_run(now=now),
    )


SCHEDULE_MIGRATION = "jobs.migrations.0006_storage_maintenance_schedule"
SCHEDULE_NAME = "heygem: retention, quota cleanup and sweep"


def schedule_ensure() -> None:
    """Create (or correct) the hourly maintenance schedule; running it again changes nothing.
    The same function as the migration, so the two can never disagree."""
    importlib.import_module(SCHEDULE_MIGRATION).create(apps, None)


def notices_take(*, user: Any) -> list[str]:
    """Notices the user has not seen yet, marked as shown: each shows once."""
    rows = list(Notice.objects.filter(owner_id=user.pk, shown_at__isnull=True))
    if rows:
        Notice.objects.filter(pk__in=[n.pk for n in rows]).update(shown_at=timezone.now())
    return [n.message for n in rows]
