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
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from jobs.heartbeats import beating
from jobs.models import FaceStatus, Template
from jobs.queue import enqueue_on_commit

log = logging.getLogger("heygem.jobs")

ANALYSE_TASK = "jobs.tasks.template_analyse"


def template_check_send(*, template_id: Any) -> None:
    """Ask for a template's face check (a new request: its attempts start again) and send
    its task once the current transaction commits."""
    Template.objects.filter(pk=template_id).update(face_queued_at=timezone.now(), face_attempts=0)
    enqueue_on_commit(ANALYSE_TASK, str(template_id))


def _silent_since(moment: datetime) -> Q:
    """Checks nobody has asked for nor vouched for since `moment`."""
    return Q(face_queued_at__lt=moment) & (
        Q(face_heartbeat_at__isnull=True) | Q(face_heartbeat_at__lt=moment)
    )


def template_check_claim(*, template_id: Any) -> datetime | None:
    """Take a wanted check that nobody is running (no live heartbeat).

    Returns the request it answers (the ``face_queued_at`` it claimed), or None: the check
    is done already, or another worker is on it. Comparing that value, not the clocks of
    two hosts, tells the finish whether a new request came meanwhile.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.JOB_STALE_AFTER)
    wanted = Template.objects.filter(pk=template_id, face_queued_at__isnull=False).filter(
        Q(face_heartbeat_at__isnull=True) | Q(face_heartbeat_at__lt=stale_before)
    )
    request = wanted.values_list("face_queued_at", flat=True).first()
    if request is None or not wanted.filter(face_queued_at=request).update(
        face_attempts=F("face_attempts") + 1, face_heartbeat_at=now
    ):
        return None
    log.info("template face check started", extra={"template_id": str(template_id)})
    return request


def template_check_heartbeat(template_id: Any) -> AbstractContextManager[Any]:
    """While the body runs, write the claimed check's heartbeat every JOB_HEARTBEAT_INTERVAL."""

    def beat() -> int:
        return Template.objects.filter(pk=template_id, face_heartbeat_at__isnull=False).update(
            face_heartbeat_at=timezone.now()
        )

    return beating(beat, f"face-check-{template_id}")


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

    Returns (sent again, failed). The conditional update on the two times read lets one
    watchdog act once per period, and loses to a worker claiming the check meanwhile.
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.JOB_STALE_AFTER)
    resent = failed = 0
    for template in Template.objects.filter(_silent_since(stale_before)).only(
        "pk", "owner_id", "face_status", "face_queued_at", "face_heartbeat_at", "face_attempts"
    ):
        ids = {"template_id": str(template.pk), "user_id": template.owner_id}
        base = Template.objects.filter(
            pk=template.pk,
            face_queued_at=template.face_queued_at,
            face_heartbeat_at=template.face_heartbeat_at,
        )
        attempts = template.face_attempts
        if attempts >= settings.RENDER_MAX_ATTEMPTS:
            # A template that is ready already (a render tracked it) stays usable.
            outcome: dict[str, Any] = {}
            if template.face_status == FaceStatus.PENDING:
                outcome = {
                    "face_status": FaceStatus.FAILED,
                    "face_error": (
                        f"Checking this video for a face stopped the worker {attempts} times "
                        "(it may be too long or too large for this server), so we gave up. "
                        "Upload a shorter clip, or the same video at a lower resolution "
                        "(1080p or less)."
                    ),
                    "face_error_code": "face_check_lost",
                    "face_error_params": {"attempts": attempts},
                }
            if base.update(face_queued_at=None, face_heartbeat_at=None, **outcome) and outcome:
                failed += 1
                log.warning("template face check abandoned after repeated worker deaths", extra=ids)
            continue
        with transaction.atomic():
            if base.update(face_queued_at=now):
                resent += 1
                enqueue_on_commit(ANALYSE_TASK, str(template.pk))
                log.warning("template face check sent again: its task was lost", extra=ids)
    return resent, failed
