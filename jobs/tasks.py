"""django-q2 tasks: interfaces only. Each takes ids, and calls one service.

The dotted paths (``jobs.tasks.job_render`` ...) are stored in broker rows and in migrations'
schedules: keep these names where they are. Nothing here loads PyAV or torch at import time
(the web process imports this module to enqueue); the worker's render steps import them.
"""

from __future__ import annotations

from jobs.library import face_checks
from jobs.render import leases, lifecycle
from jobs.render import segment_plan as segments
from jobs.render.worker import preparation, runner
from jobs.render.worker import segment_render as segment_worker
from jobs.storage import cleanup
from jobs.webhooks import delivery


def batch_prepare(batch_id: str) -> int:
    return preparation.batch_prepare(batch_id=batch_id)


def job_render(job_id: str) -> str:
    return runner.job_run(job_id=job_id)


def template_analyse(template_id: str) -> str:
    return preparation.template_analyse(template_id=template_id)


def segment_render(segment_id: str) -> str:
    return segment_worker.segment_run(segment_id=segment_id)


def job_join(job_id: str) -> str:
    return segment_worker.job_join(job_id=job_id)


def requeue_stale_jobs() -> tuple[int, int, int]:
    """The watchdog (jobs.render.leases over every kind of work): (running jobs, segments and
    preparations requeued; jobs, segments, face checks and preparations failed after their
    attempts; queued jobs, segments, lost joins, face checks and preparations sent again)."""
    requeued, failed = lifecycle.jobs_requeue_stale()
    resent = lifecycle.jobs_resend_stranded()
    parts = segments.segments_requeue_stale()
    checks_resent, checks_failed = face_checks.templates_resend_stranded()
    prepared = leases.sweep(preparation.PREPARE_LEASE)
    return (
        requeued + parts[0] + prepared.requeued,
        failed + parts[1] + checks_failed + prepared.failed,
        resent + parts[2] + checks_resent + prepared.resent,
    )


def webhook_deliver(delivery_id: str) -> str:
    return delivery.webhook_delivery_attempt(delivery_id=delivery_id)


def storage_maintenance() -> str:
    return str(cleanup.maintenance_run())
