"""Events from the real services and a real render: job.succeeded, job.failed and
batch.completed reach the owner's webhooks (never another user's), once per completion,
only after commit, and cost one query when the user has no webhooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template, WebhookDelivery
from jobs.render import lifecycle
from jobs.render.worker import preparation, runner
from jobs.webhooks import services as webhooks
from tests.jobs.test_webhooks import readme_verifier
from tests.support.jobs import finish_job
from tests.support.webhook_receiver import Receiver, run_queued_webhook_tasks

pytestmark = pytest.mark.django_db(transaction=True)

ALL_EVENTS = ["batch.completed", "job.succeeded", "job.failed"]


def _events(receiver: Receiver, path: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for request in receiver.requests:
        if request.path == path:
            payload = json.loads(request.body)
            assert payload["type"] == request.headers["x-heygem-event"]
            found.setdefault(payload["type"], []).append(payload)
    return found


def test_a_real_render_sends_job_and_batch_events_to_the_owner_only(
    owner: User,
    other: User,
    receiver: Receiver,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    no_face_video: Path,
) -> None:
    mine = webhooks.webhook_create(owner=owner, url=receiver.url + "/a", events=ALL_EVENTS)
    webhooks.webhook_create(owner=other, url=receiver.url + "/b", events=ALL_EVENTS)
    good = make_template(name="anna.mp4")
    broken = make_template(no_face_video, name="empty room.mp4")
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[broken.pk, good.pk], name="Launch"
    )
    preparation.batch_prepare(batch_id=batch.pk)
    for job_id in batch.jobs.order_by("position").values_list("pk", flat=True):
        runner.job_run(job_id=job_id)

    assert run_queued_webhook_tasks() == ["succeeded"] * 3
    assert _events(receiver, "/b") == {}  # the other user's webhook hears nothing of this batch
    events = _events(receiver, "/a")
    assert sorted(events) == ["batch.completed", "job.failed", "job.succeeded"]
    assert all(len(v) == 1 for v in events.values())
    verify = readme_verifier()
    for request in receiver.requests:
        assert verify(mine.secret, request.headers["x-heygem-signature"], request.body)
        assert mine.secret.encode() not in request.body

    failed_job, done_job = batch.jobs.order_by("position")
    failed = events["job.failed"][0]["data"]
    assert failed["job"]["id"] == str(failed_job.pk)
    assert failed["job"]["status"] == "failed" and failed["job"]["result_path"] is None
    assert "face" in failed["job"]["error_message"].lower()
    assert failed["batch"]["id"] == str(batch.pk) and failed["batch"]["name"] == "Launch"

    done = events["job.succeeded"][0]["data"]["job"]
    assert done["id"] == str(done_job.pk) and done["status"] == "succeeded"
    assert done["result_path"] == f"/jobs/{done_job.pk}/download/"
    assert done["output_size"] == done_job.output_size > 0

    completed = events["batch.completed"][0]["data"]["batch"]
    assert completed["status"] == "done with failures"
    assert completed["counts"] == {
        "total": 2,
        "succeeded": 1,
        "failed": 1,
        "canceled": 0,
        "queued": 0,
        "running": 0,
    }
    assert [j["status"] for j in completed["jobs"]] == ["failed", "succeeded"]
    assert completed["path"] == f"/batches/{batch.pk}/" and completed["finished_at"]


@pytest.fixture
def batch(owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]) -> Batch:
    a = make_template(name="a.mp4")
    b = make_template(
        name="b.mp4", path=Path(__file__).parents[1] / "fixtures" / "face_with_audio.mp4"
    )
    return services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk])


def test_batch_completed_fires_once_per_completion_and_again_after_a_retry(
    owner: User, receiver: Receiver, batch: Batch
) -> None:
    webhooks.webhook_create(owner=owner, url=receiver.url + "/a", events=["batch.completed"])
    first, second = batch.jobs.order_by("position")
    finish_job(first, status=JobStatus.SUCCEEDED, content=b"result")
    assert not WebhookDelivery.objects.exists()  # one job left: not complete yet
    finish_job(
        second, status=JobStatus.FAILED, error="The renderer ran out of memory. Retry later."
    )
    services.job_delete(job=RenderJob.objects.get(pk=first.pk))  # already complete: no new event
    assert run_queued_webhook_tasks() == ["succeeded"]
    (event,) = _events(receiver, "/a")["batch.completed"]
    assert event["data"]["batch"]["status"] == "done with failures"

    # A retry that finishes again is a new completion: a new event (new id).
    services.batch_retry_failed(batch=batch)
    finish_job(RenderJob.objects.get(pk=second.pk), status=JobStatus.SUCCEEDED, content=b"result")
    assert run_queued_webhook_tasks() == ["succeeded"]
    first_event, again = _events(receiver, "/a")["batch.completed"]
    assert again["data"]["batch"]["status"] == "done" and again["id"] != first_event["id"]

    # Retrying a batch with nothing failed changes nothing and announces nothing.
    assert services.batch_retry_failed(batch=batch) == 0
    assert WebhookDelivery.objects.count() == 2


def test_job_events_follow_the_subscription_and_a_rollback_sends_nothing(
    owner: User, receiver: Receiver, batch: Batch
) -> None:
    webhooks.webhook_create(owner=owner, url=receiver.url + "/a", events=["job.failed"])
    first, second = batch.jobs.order_by("position")
    finish_job(
        first, status=JobStatus.SUCCEEDED, content=b"result"
    )  # job.succeeded: not subscribed
    assert not WebhookDelivery.objects.exists()

    assert lifecycle.job_claim(job_id=second.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.job_fail(job=RenderJob.objects.get(pk=second.pk), message="Boom.")
        raise RuntimeError("the caller's transaction rolls back")
    assert not WebhookDelivery.objects.exists()  # nothing committed, nothing announced

    lifecycle.job_fail(job=RenderJob.objects.get(pk=second.pk), message="Boom.")
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event == "job.failed"
    assert delivery.payload["data"]["job"]["error_message"] == "Boom."
    assert run_queued_webhook_tasks() == ["succeeded"]


def test_canceling_a_batch_sends_batch_completed_with_status_canceled(
    owner: User, receiver: Receiver, batch: Batch
) -> None:
    webhooks.webhook_create(owner=owner, url=receiver.url + "/a", events=ALL_EVENTS)
    services.batch_cancel(batch=batch)
    assert run_queued_webhook_tasks() == ["succeeded"]
    (event,) = _events(receiver, "/a")["batch.completed"]
    assert event["data"]["batch"]["status"] == "canceled"


def test_events_of_a_user_without_webhooks_cost_one_query_each(
    owner: User, other: User, batch: Batch, receiver: Receiver
) -> None:
    webhooks.webhook_create(owner=other, url=receiver.url + "/b", events=ALL_EVENTS)
    first, second = batch.jobs.order_by("position")
    finish_job(first, status=JobStatus.SUCCEEDED, content=b"result")
    assert lifecycle.job_claim(job_id=second.pk)
    job = RenderJob.objects.select_related("batch").get(pk=second.pk)
    with CaptureQueriesContext(connection) as ctx:
        lifecycle.job_fail(job=job, message="Boom.")  # job.failed + batch.completed
    webhook_queries = [q["sql"] for q in ctx.captured_queries if "jobs_webhook" in q["sql"]]
    assert len(webhook_queries) == 2 and all(q.startswith("SELECT") for q in webhook_queries)
    assert not WebhookDelivery.objects.exists()
    assert RenderJob.objects.get(pk=second.pk).status == JobStatus.FAILED
