from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from jobs import selectors, services
from jobs.models import AudioClip, Batch, JobStatus, Template
from jobs.selectors import BatchStatus
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_templates(make_template: Callable[..., Template]) -> list[Template]:
    from tests.api.conftest import FIXTURES

    return [make_template(name="one.mp4"), make_template(path=FIXTURES / "face_with_audio.mp4")]


def _create(api: APIClient, audio: AudioClip, templates: list[Template], **extra) -> dict:
    payload = {"audio": str(audio.pk), "templates": [str(t.pk) for t in templates], **extra}
    return api.post("/api/v1/batches/", payload, format="json", **extra.pop("headers", {}))


def test_it_creates_a_batch_with_one_job_per_template(
    api: APIClient, audio_clip: AudioClip, two_templates: list[Template]
) -> None:
    response = _create(api, audio_clip, two_templates, name="From a script")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "From a script" and body["engine"] == "classic"
    assert body["status"] == "queued" and body["progress"] == 0.0
    assert body["counts"] == {
        "total": 2,
        "queued": 2,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "canceled": 0,
    }
    assert [j["position"] for j in body["jobs"]] == [1, 2]
    assert [j["template"] for j in body["jobs"]] == [str(t.pk) for t in two_templates]
    assert all(j["result_url"] is None for j in body["jobs"])


def test_it_explains_what_is_wrong_with_a_create_request(
    api: APIClient, audio_clip: AudioClip, two_templates: list[Template], other: User
) -> None:
    empty = api.post(
        "/api/v1/batches/", {"audio": str(audio_clip.pk), "templates": []}, format="json"
    )
    assert empty.status_code == 400
    assert (
        empty.json()["error"]["code"] == "invalid"
        and "templates" in empty.json()["error"]["fields"]
    )
    engine = _create(api, audio_clip, two_templates, engine="warp-drive")
    assert engine.status_code == 400 and "not available" in engine.json()["error"]["message"]
    # Another user's audio is as good as missing.
    from tests.support.media import SPEECH, uploaded

    foreign = services.audio_upload(owner=other, uploaded=uploaded(SPEECH))
    response = _create(api, foreign, two_templates)
    assert (
        response.status_code == 400 and "no longer available" in response.json()["error"]["message"]
    )
    assert Batch.objects.count() == 0


def test_an_idempotency_key_makes_a_retry_return_the_first_batch(
    api: APIClient, audio_clip: AudioClip, two_templates: list[Template]
) -> None:
    payload = {"audio": str(audio_clip.pk), "templates": [str(t.pk) for t in two_templates]}
    first = api.post("/api/v1/batches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="run-42")
    again = api.post("/api/v1/batches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="run-42")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Batch.objects.count() == 1
    changed = api.post(
        "/api/v1/batches/",
        {**payload, "name": "other"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="run-42",
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    fresh = api.post("/api/v1/batches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="run-43")
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_a_failed_create_does_not_use_up_its_idempotency_key(
    api: APIClient, audio_clip: AudioClip, two_templates: list[Template], owner: User
) -> None:
    owner.max_concurrent_jobs = 1
    owner.save()
    payload = {"audio": str(audio_clip.pk), "templates": [str(t.pk) for t in two_templates]}
    refused = api.post("/api/v1/batches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert refused.status_code == 400 and "your limit is 1" in refused.json()["error"]["message"]
    owner.max_concurrent_jobs = 5
    owner.save()
    assert (
        api.post("/api/v1/batches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )


def test_idempotency_keys_belong_to_their_user(
    api: APIClient, other_api: APIClient, audio_clip: AudioClip, two_templates: list[Template]
) -> None:
    payload = {"audio": str(audio_clip.pk), "templates": [str(t.pk) for t in two_templates]}
    assert (
        api.post(
            "/api/v1/batches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="same"
        ).status_code
        == 201
    )
    # The other user reusing the string gets their own answer (here: the audio is not theirs).
    response = other_api.post(
        "/api/v1/batches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    assert response.status_code == 400


def test_the_list_pages_with_a_cursor_newest_first(
    api: APIClient, owner: User, audio_clip: AudioClip, two_templates: list[Template]
) -> None:
    made = []
    for i in range(5):
        batch = services.batch_create(
            owner=owner, audio_id=audio_clip.pk, template_ids=[two_templates[0].pk], name=f"b{i}"
        )
        Batch.objects.filter(pk=batch.pk).update(
            created_at=timezone.now() - timedelta(minutes=10 - i)
        )
        services.batch_cancel(batch=batch)
        made.append(str(batch.pk))
    seen: list[str] = []
    url = "/api/v1/batches/?page_size=2"
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 2
        seen += [b["id"] for b in page["results"]]
        url = page["next"]
    assert seen == list(reversed(made))


def test_it_filters_by_status_the_same_way_pages_derive_it(
    api: APIClient, owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> None:
    """Each mix of job states lands in exactly the status BatchCounts derives for it."""
    template = make_template()
    mixes = {
        "all queued": ["queued", "queued"],
        "one running": ["running", "queued"],
        "half done": ["succeeded", "queued"],
        "all done": ["succeeded", "succeeded"],
        "one failed": ["succeeded", "failed"],
        "all failed": ["failed", "failed"],
        "canceled": ["canceled", "canceled"],
        "canceled after one": ["succeeded", "canceled"],
    }
    expected: dict[str, str] = {}
    for name, states in mixes.items():
        batch = services.batch_create(
            owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk] * 1, name=name
        )
        first = batch.jobs.get()
        for position, state in enumerate(states[1:], start=2):
            first.pk = None
            first.position = position
            first.save()
        for job, state in zip(batch.jobs.order_by("position"), states, strict=True):
            if state != "queued":
                finish_job(
                    job, status=state
                ) if state != "running" else job.__class__.objects.filter(pk=job.pk).update(
                    status=state
                )
        expected[name] = selectors.batch_counts(Batch.objects.get(pk=batch.pk)).status
    assert set(expected.values()) == {
        BatchStatus.QUEUED,
        BatchStatus.RUNNING,
        BatchStatus.DONE,
        BatchStatus.DONE_WITH_FAILURES,
        BatchStatus.CANCELED,
    }
    for status in set(expected.values()):
        names = sorted(
            b["name"] for b in api.get("/api/v1/batches/", {"status": status}).json()["results"]
        )
        assert names == sorted(n for n, s in expected.items() if s == status), status
    bad = api.get("/api/v1/batches/?status=finished")
    assert bad.status_code == 400 and "status must be one of" in bad.json()["error"]["message"]


def test_it_filters_by_creation_date(
    api: APIClient, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    old = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name="old"
    )
    Batch.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    services.batch_cancel(batch=old)
    services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name="new"
    )
    day = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert [
        b["name"] for b in api.get(f"/api/v1/batches/?created_after={day}").json()["results"]
    ] == ["new"]
    assert [
        b["name"] for b in api.get(f"/api/v1/batches/?created_before={day}").json()["results"]
    ] == ["old"]
    bad = api.get("/api/v1/batches/?created_after=yesterday")
    assert bad.status_code == 400 and "2026-11-21" in bad.json()["error"]["message"]
    # Found by schemathesis on PostgreSQL, which refuses offsets beyond ±15:59: valid
    # ISO 8601 moments with large offsets compare in UTC; impossible ones are a 400.
    far = api.get("/api/v1/batches/", {"created_after": "1054-06-16T23:04:26+16:50"})
    assert far.status_code == 200 and len(far.json()["results"]) == 2
    for impossible in ("2026-13-45", "2026-02-30T10:00:00Z", "0001-01-01T00:00:00+14:00"):
        response = api.get("/api/v1/batches/", {"created_before": impossible})
        assert response.status_code in (200, 400), impossible
        assert response.status_code == 400 or response.json()["results"] == []


def test_cancel_retry_and_delete(api: APIClient, batch: Batch, owner: User) -> None:
    job = batch.jobs.order_by("position").first()
    finish_job(job, status=JobStatus.FAILED, error="We could not find a face in this video.")
    canceled = api.post(f"/api/v1/batches/{batch.pk}/cancel/")
    assert canceled.status_code == 200 and canceled.json()["counts"]["canceled"] == 1
    retried = api.post(f"/api/v1/batches/{batch.pk}/retry/")
    assert retried.status_code == 200
    assert retried.json()["requeued"] == 2 and retried.json()["batch"]["counts"]["queued"] == 2
    assert api.delete(f"/api/v1/batches/{batch.pk}/").status_code == 204
    assert api.get(f"/api/v1/batches/{batch.pk}/").status_code == 404
    assert not Batch.objects.filter(pk=batch.pk).exists()


def test_a_job_and_its_result(api: APIClient, batch: Batch) -> None:
    job = batch.jobs.order_by("position").first()
    not_ready = api.get(f"/api/v1/jobs/{job.pk}/result/")
    assert not_ready.status_code == 404 and not_ready.json()["error"]["code"] == "not_ready"
    finish_job(job, status=JobStatus.SUCCEEDED, content=b"0123456789" * 100)
    body = api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["status"] == "succeeded" and body["result_url"] == f"/api/v1/jobs/{job.pk}/result/"
    full = api.get(body["result_url"])
    assert full.status_code == 200 and b"".join(full.streaming_content) == b"0123456789" * 100
    assert "attachment" in full["Content-Disposition"]
    part = api.get(body["result_url"], HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and b"".join(part.streaming_content) == b"0123456789"
    detail = api.get(f"/api/v1/batches/{batch.pk}/").json()
    assert detail["status"] == "running" and detail["progress"] == 0.5


def test_it_lists_the_engines_this_server_offers(api: APIClient) -> None:
    engines = api.get("/api/v1/engines/").json()
    assert {"name": "classic", "default": True} in engines


def test_it_mints_an_export_link_that_downloads_without_a_key(
    api: APIClient, other_api: APIClient, batch: Batch
) -> None:
    import io
    import zipfile

    from rest_framework.test import APIClient as Anonymous

    finish_job(
        batch.jobs.order_by("position").first(), status=JobStatus.SUCCEEDED, content=b"x" * 500
    )
    response = api.post("/api/v1/exports/", {"batches": [str(batch.pk)]}, format="json")
    assert response.status_code == 201, response.json()
    link = response.json()
    assert link["url"].startswith("http://testserver/")
    assert [uuid.UUID(b) for b in link["batches"]] == [batch.pk]
    download = Anonymous().get(link["url"].removeprefix("http://testserver"))
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert len(data) == link["size"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
    # Another user's key cannot mint a link for this batch, and learns nothing.
    foreign = other_api.post("/api/v1/exports/", {"batches": [str(batch.pk)]}, format="json")
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    empty = api.post("/api/v1/exports/", {"batches": []}, format="json")
    assert empty.status_code == 400


def test_it_reports_usage_and_limits(
    api: APIClient, other_api: APIClient, batch: Batch, owner: User
) -> None:
    usage = api.get("/api/v1/usage/").json()
    owner.refresh_from_db()
    assert usage["used_bytes"] == owner.storage_used_bytes > 0
    assert (
        usage["used_bytes"]
        == usage["audio_bytes"] + usage["template_bytes"] + usage["result_bytes"]
    )
    assert usage["quota_bytes"] == owner.storage_quota_bytes
    assert usage["active_jobs"] == 2 and usage["max_concurrent_jobs"] == owner.max_concurrent_jobs
    assert usage["retention_days"] == owner.retention_days
    # Another user's usage is their own.
    assert other_api.get("/api/v1/usage/").json()["used_bytes"] == 0
