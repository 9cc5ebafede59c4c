"""django-q2 tasks: interfaces only. Each takes ids, and calls one service."""

from __future__ import annotations

from jobs import services
from jobs.webhooks import services as webhooks
from jobs.worker import runner


def batch_prepare(batch_id: str) -> int:
    return services.batch_prepare(batch_id=batch_id)


def job_render(job_id: str) -> str:
    return runner.job_run(job_id=job_id)


def template_analyse(template_id: str) -> str:
    return services.template_analyse(template_id=template_id)


def requeue_stale_jobs() -> tuple[int, int]:
    return services.jobs_requeue_stale()


def webhook_deliver(delivery_id: str) -> str:
    return webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


def storage_maintenance() -> str:
    from jobs.storage import cleanup

    return str(cleanup.maintenance_run())
