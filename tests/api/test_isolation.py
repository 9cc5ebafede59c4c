"""Every API endpoint that takes an id answers 404 to another user's key."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from jobs.models import AudioClip, Batch, RenderJob, Template
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def ids(batch: Batch) -> dict[str, str]:
    job = batch.jobs.order_by("position").first()
    finish_job(job, status="succeeded", content=b"mp4 bytes")
    template = batch.jobs.first().template
    return {
        "audio": str(batch.audio_id),
        "template": str(template.pk),
        "batch": str(batch.pk),
        "job": str(job.pk),
    }


ENDPOINTS = [
    ("get", "/api/v1/audio/{audio}/"),
    ("delete", "/api/v1/audio/{audio}/"),
    ("get", "/api/v1/templates/{template}/"),
    ("delete", "/api/v1/templates/{template}/"),
    ("get", "/api/v1/batches/{batch}/"),
    ("delete", "/api/v1/batches/{batch}/"),
    ("post", "/api/v1/batches/{batch}/cancel/"),
    ("post", "/api/v1/batches/{batch}/retry/"),
    ("get", "/api/v1/jobs/{job}/"),
    ("get", "/api/v1/jobs/{job}/result/"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_it_answers_404_to_another_users_key(
    method: str, url: str, ids: dict[str, str], api: APIClient, other_api: APIClient
) -> None:
    path = url.format(**ids)
    response = getattr(other_api, method)(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    # The owner's own key reaches the same thing (so the 404 was about ownership).
    assert api.get(
        path if method == "get" else path.replace("cancel/", "").replace("retry/", "")
    ).status_code in (200, 206)


def test_nothing_was_changed_by_the_foreign_requests(
    ids: dict[str, str], other_api: APIClient
) -> None:
    for method, url in ENDPOINTS:
        getattr(other_api, method)(url.format(**ids))
    assert AudioClip.objects.filter(pk=ids["audio"]).exists()
    assert Template.objects.filter(pk=ids["template"]).exists()
    assert Batch.objects.filter(pk=ids["batch"]).exists()
    assert RenderJob.objects.filter(pk=ids["job"], status="succeeded").exists()
    assert RenderJob.objects.filter(batch_id=ids["batch"], status="queued").count() == 1


def test_lists_show_only_the_callers_rows(ids: dict[str, str], other_api: APIClient) -> None:
    for url in ("/api/v1/audio/", "/api/v1/templates/", "/api/v1/batches/"):
        response = other_api.get(url)
        assert response.status_code == 200
        assert response.json()["results"] == []
