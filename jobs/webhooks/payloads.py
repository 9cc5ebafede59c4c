"""What webhook events carry: a job in the one job payload (jobs.selectors.job_payload) and a
batch from the one read model (jobs.selectors.batch_state). Sentences in them (a failure's
``error_message``) are worded in the owner's language: their saved one, else the site's."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from jobs.models import Batch, JobStatus, RenderJob
from jobs.selectors import batch_counts, iso_utc, job_payload

Payload = dict[str, Any]


def _job_json(job: RenderJob) -> Payload:
    done = job.status == JobStatus.SUCCEEDED and bool(job.output)
    # Relative, so the receiver joins it to the address it knows the site by.
    return job_payload(job) | {
        "result_path": reverse("job_download", args=[job.pk]) if done else None
    }


def _batch_json(batch: Batch) -> Payload:
    counts = batch_counts(batch)
    return {
        "id": str(batch.pk),
        "name": batch.name,
        "engine": batch.engine,
        "status": counts.status,
        "counts": counts.as_dict(),
        "path": reverse("batch_detail", args=[batch.pk]),
        "created_at": iso_utc(batch.created_at),
        "finished_at": iso_utc(batch.finished_at),
    }


def _owners_language(batch: Batch) -> str:
    return str(batch.owner.language or settings.LANGUAGE_CODE)


def job_event_data(job_id: Any) -> Payload | None:
    """job.succeeded / job.failed: the job and its batch; None once the job is gone."""
    job = RenderJob.objects.select_related("batch__owner").filter(pk=job_id).first()
    if job is None:
        return None
    with translation.override(_owners_language(job.batch)):
        return {"job": _job_json(job), "batch": _batch_json(job.batch)}


def batch_event_data(batch_id: Any) -> Payload | None:
    """batch.completed: the batch with all its jobs; None once the batch is gone."""
    batch = Batch.objects.select_related("owner").filter(pk=batch_id).first()
    if batch is None:
        return None
    with translation.override(_owners_language(batch)):
        data = _batch_json(batch)
        data["jobs"] = [_job_json(job) for job in batch.jobs.order_by("position")]
    return {"batch": data}
