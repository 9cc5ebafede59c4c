"""The one lease machine: claim, heartbeat, and the watchdog's requeue-or-fail and resend, for
every kind of work a worker holds (render jobs, their segments, template face checks, batch
preparations).

Each kind is a :class:`Lease`: a queryset of its rows and the names of three columns (when
the holder last said it is alive, how many times it was claimed, when its task was last sent
or vouched for), plus what its states look like (``waiting``, ``held``) and what to do to
send its task or to give up on it. Every move is a conditional update on the state it
leaves and on the very values read, so a twin task, a finish, a heartbeat and a second
watchdog racing each other can never both win:

- :func:`claim`: ``waiting -> held``, counting an attempt (a SIGKILLed worker saves no
  result, so django-q2 cannot count it: our row does);
- :func:`beat`: the holder is alive (False once the work was canceled or taken away);
- :func:`sweep` (the watchdog, every minute): a held row whose heartbeat stopped for
  ``JOB_STALE_AFTER`` goes back to waiting and its task is sent again, or, after
  ``RENDER_MAX_ATTEMPTS`` claims, the lease gives up on it with a sentence; a waiting row
  nobody sent or vouched for in ``JOB_STALE_AFTER`` gets its task again (its task was lost
  with a dead worker). The claim makes every spare task a no-op, so nothing runs twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

log = logging.getLogger("heygem.jobs")


@dataclass(frozen=True)
class Lease:
    """How one kind of work is held by a worker (see the module's docstring).

    ``claimable`` is given the moment before which a heartbeat counts as stopped (a check
    whose holder died may be taken again without waiting for the watchdog).
    """

    name: str
    rows: Callable[[], models.QuerySet[Any]]
    heartbeat: str
    attempts: str
    queued_at: str
    waiting: Q
    held: Q
    claimable: Callable[[datetime], Q]
    send: Callable[[Any], None]
    give_up: Callable[[Any, datetime], bool]
    # Values a claim sets besides the heartbeat and the attempt (e.g. status=running).
    take: dict[str, Any] = field(default_factory=dict)
    # Values a requeue of a dead holder sets besides heartbeat=None, queued_at=now.
    put_back: dict[str, Any] = field(default_factory=dict)
    # Held / waiting rows that are watched by something else (a job split into segments is
    # watched through them; a job whose batch is still being prepared, through that).
    held_elsewhere: Q | None = None
    waiting_elsewhere: Q | None = None
    related: tuple[str, ...] = ()


@dataclass
class Sweep:
    requeued: int = 0
    failed: int = 0
    resent: int = 0

    def __add__(self, other: Sweep) -> Sweep:
        return Sweep(
            self.requeued + other.requeued, self.failed + other.failed, self.resent + other.resent
        )


def stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.JOB_STALE_AFTER)


def claim(
    lease: Lease, pk: Any, *, now: datetime | None = None, where: Q | None = None, **values: Any
) -> bool:
    """Take the row for this worker (``where``: a further condition, e.g. the request that
    was read). Exactly one caller wins (a conditional update)."""
    now = now or timezone.now()
    return (
        lease.rows()
        .filter(lease.claimable(stale_before(now)), where or Q(), pk=pk)
        .update(
            **{lease.attempts: F(lease.attempts) + 1, lease.heartbeat: now},
            **lease.take,
            **values,
        )
        == 1
    )


def beat(lease: Lease, pk: Any, **values: Any) -> bool:
    """Record that the holder is alive (and ``values``, e.g. progress); False once the row
    is no longer held (canceled, finished, or taken back by the watchdog)."""
    return (
        lease.rows().filter(lease.held, pk=pk).update(**{lease.heartbeat: timezone.now()}, **values)
        == 1
    )


def _listed(rows: models.QuerySet[Any]) -> list[Any]:
    """The rows the watchdog read; every update after this point re-checks what it read."""
    return list(rows)


def sweep(
    lease: Lease, *, now: datetime | None = None, held: bool = True, waiting: bool = True
) -> Sweep:
    """The watchdog's pass over one lease.

    1. Held rows whose heartbeat stopped: give up after RENDER_MAX_ATTEMPTS claims, else
       back to waiting (only if still held with the heartbeat read) and sent again.
    2. Waiting rows silent for JOB_STALE_AFTER: sent again, once per period (only if still
       waiting with the ``queued_at`` read).
    """
    now = now or timezone.now()
    before = stale_before(now)
    done = Sweep()
    if held:
        done += _requeue_stale(lease, now=now, before=before)
    if waiting:
        done += _resend_stranded(lease, now=now, before=before)
    return done


def _requeue_stale(lease: Lease, *, now: datetime, before: datetime) -> Sweep:
    done = Sweep()
    stale = lease.rows().filter(lease.held, **{f"{lease.heartbeat}__lt": before})
    if lease.held_elsewhere is not None:
        stale = stale.exclude(lease.held_elsewhere)
    for row in _listed(stale.select_related(*lease.related)):
        if getattr(row, lease.attempts) >= settings.RENDER_MAX_ATTEMPTS:
            if lease.give_up(row, now):
                done.failed += 1
                log.warning(
                    "work abandoned after repeated worker deaths",
                    extra={"lease": lease.name, "id": str(row.pk)},
                )
            continue
        with transaction.atomic():
            if (
                lease.rows()
                .filter(lease.held, pk=row.pk, **{lease.heartbeat: getattr(row, lease.heartbeat)})
                .update(**{lease.heartbeat: None, lease.queued_at: now}, **lease.put_back)
            ):
                done.requeued += 1
                lease.send(row)
                log.warning(
                    "work requeued after its worker stopped",
                    extra={"lease": lease.name, "id": str(row.pk)},
                )
    return done


def _resend_stranded(lease: Lease, *, now: datetime, before: datetime) -> Sweep:
    done = Sweep()
    silent = lease.rows().filter(lease.waiting, **{f"{lease.queued_at}__lt": before})
    if lease.waiting_elsewhere is not None:
        silent = silent.exclude(lease.waiting_elsewhere)
    for row in _listed(silent.select_related(*lease.related)):
        with transaction.atomic():
            if (
                lease.rows()
                .filter(
                    lease.waiting, pk=row.pk, **{lease.queued_at: getattr(row, lease.queued_at)}
                )
                .update(**{lease.queued_at: now})
            ):
                done.resent += 1
                lease.send(row)
                log.warning(
                    "task sent again: it was lost", extra={"lease": lease.name, "id": str(row.pk)}
                )
    return done
