"""A template's face check (``jobs.tasks.template_analyse``): never lost, never run twice at once.

A check is *wanted* while ``face_queued_at`` is set: every request (an upload, a face
choice, ``manage.py template_faces``) sets it and sends the task; the check that finishes
clears it. A worker *claims* the check with a conditional update that sets
``face_heartbeat_at`` and counts ``face_attempts`` (a SIGKILLed worker saves no result, so
django-q2 cannot count it); a heartbeat thread keeps ``face_heartbeat_at`` fresh while it
runs, so a spare task finds it busy and does nothing.

The watchdog (``jobs.tasks.requeue_stale_jobs``, every minute) sends the task again for a
wanted check nobody has sent or vouched for in ``JOB_STALE_AFTER`` (its task was lost with a
dead cluster, or its worker died mid-check), once per period (a conditional update); after
``RENDER_MAX_ATTEMPTS`` starts a pending template fails with a sentence instead of killing
workers for ever (``face_check_lost``).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import FaceStatus, Template
from jobs.render import leases
from jobs.render.heartbeats import beating
from jobs.render.queue import enqueue_on_commit
from jobs.user_errors import english

log = logging.getLogger("heygem.jobs")

ANALYSE_TASK = "jobs.tasks.template_analyse"


def template_check_send(*, template_id: Any) -> None:
    """Ask for a template's face check (a new request: its attempts start again) and send
    its task once the current transaction commits."""
    Template.objects.filter(pk=template_id).update(face_queued_at=timezone.now(), face_attempts=0)
    enqueue_on_commit(ANALYSE_TASK, str(template_id))


def _check_send(template: Template) -> None:
    enqueue_on_commit(ANALYSE_TASK, str(template.pk))


def _check_give_up(template: Template, now: datetime) -> bool:
    """Stop wanting a check that started RENDER_MAX_ATTEMPTS times; a pending template
    fails with a sentence (one that is ready already, a render tracked it, stays usable).
    True when a template failed."""
    attempts = template.face_attempts
    outcome: dict[str, Any] = {}
    if template.face_status == FaceStatus.PENDING:
        outcome = {
            "face_status": FaceStatus.FAILED,
            "face_error": english("face_check_lost", {"attempts": attempts}),
            "face_error_code": "face_check_lost",
            "face_error_params": {"attempts": attempts},
        }
    ended = Template.objects.filter(
        pk=template.pk,
        face_queued_at=template.face_queued_at,
        face_heartbeat_at=template.face_heartbeat_at,
    ).update(face_queued_at=None, face_heartbeat_at=None, **outcome)
    return bool(ended and outcome)


# A check is wanted while face_queued_at is set, held while face_heartbeat_at is; a held
# check whose heartbeat stopped may be claimed again by a spare task before the watchdog.
CHECK_LEASE = leases.Lease(
    name="face check",
    rows=lambda: Template.objects.all(),
    heartbeat="face_heartbeat_at",
    attempts="face_attempts",
    queued_at="face_queued_at",
    waiting=Q(face_queued_at__isnull=False, face_heartbeat_at__isnull=True),
    held=Q(face_heartbeat_at__isnull=False),
    claimable=lambda before: (
        Q(face_queued_at__isnull=False)
        & (Q(face_heartbeat_at__isnull=True) | Q(face_heartbeat_at__lt=before))
    ),
    send=_check_send,
    give_up=_check_give_up,
)


def template_check_claim(*, template_id: Any) -> datetime | None:
    """Take a wanted check that nobody is running (no live heartbeat).

    Returns the request it answers (the ``face_queued_at`` it claimed), or None: the check
    is done already, or another worker is on it. Comparing that value, not the clocks of
    two hosts, tells the finish whether a new request came meanwhile.
    """
    now = timezone.now()
    request = (
        Template.objects.filter(pk=template_id)
        .filter(CHECK_LEASE.claimable(leases.stale_before(now)))
        .values_list("face_queued_at", flat=True)
        .first()
    )
    # The claim must answer the very request read (a new one may come meanwhile).
    if request is None or not leases.claim(
        CHECK_LEASE, template_id, now=now, where=Q(face_queued_at=request)
    ):
        return None
    log.info("template face check started", extra={"template_id": str(template_id)})
    return request


def template_check_heartbeat(template_id: Any) -> AbstractContextManager[Any]:
    """While the body runs, write the claimed check's heartbeat every JOB_HEARTBEAT_INTERVAL."""

    return beating(lambda: leases.beat(CHECK_LEASE, template_id), f"face-check-{template_id}")


def template_check_finish(*, template_id: Any, request: datetime) -> None:
    """The claimed check (answering `request`) has recorded its outcome: nothing is wanted
    any more, unless a new request came while it ran (another face chosen), which is then
    sent at once. ``face_attempts`` stays as a record of how many starts the check took."""
    if Template.objects.filter(pk=template_id, face_queued_at=request).update(
        face_queued_at=None, face_heartbeat_at=None
    ):
        return
    with transaction.atomic():
        if Template.objects.filter(pk=template_id, face_queued_at__isnull=False).update(
            face_heartbeat_at=None, face_attempts=0
        ):
            enqueue_on_commit(ANALYSE_TASK, str(template_id))


def templates_resend_stranded(*, now: Any = None) -> tuple[int, int]:
    """Send again each wanted check silent for JOB_STALE_AFTER; fail a pending template
    whose check has started RENDER_MAX_ATTEMPTS times already.

    Returns (sent again, failed). The conditional updates on the values read let one
    watchdog act once per period, and lose to a worker claiming the check meanwhile.
    """
    done = leases.sweep(CHECK_LEASE, now=now)
    return done.requeued + done.resent, done.failed
