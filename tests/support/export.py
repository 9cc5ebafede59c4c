"""Batches with finished results and export links, for the export tests."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from tests.support.jobs import finish_job
from tests.support.media import FACE, FACE_WITH_AUDIO


@pytest.fixture
def make_batch(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> Callable[..., Batch]:
    template = make_template()

    def make(
        name: str = "Launch ad",
        *,
        statuses: tuple[str, ...] = (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED),
        template_names: list[str] | None = None,
    ) -> Batch:
        batch = services.batch_create(
            owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name=name
        )
        # More results from the same template (uploads are deduplicated by content).
        for position in range(2, len(statuses) + 1):
            RenderJob.objects.create(
                batch=batch, template=template, template_name="face.mp4", position=position
            )
        for job, status, source in zip(
            batch.jobs.order_by("position"),
            statuses,
            [FACE, FACE_WITH_AUDIO] * len(statuses),
            strict=False,
        ):
            if template_names:
                job.template_name = template_names[job.position - 1]
                job.save(update_fields=["template_name"])
            if status == JobStatus.SUCCEEDED:
                finish_job(job, status=status, source=source)
            elif status == JobStatus.FAILED:
                finish_job(
                    job,
                    status=status,
                    error="No face was found in this template. Use a video where one face looks at the camera.",
                )
            elif status != JobStatus.QUEUED:
                finish_job(job, status=status)
            else:
                job.save()
        return batch

    return make


def mint(client: Client, batch: Batch, **data: str) -> dict[str, object]:
    response = client.post(
        reverse("batch_export", args=[batch.pk]), data, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def path_of(url: object) -> str:
    parts = urlsplit(str(url))
    return f"{parts.path}?{parts.query}"


def download(url: object, **headers: str) -> tuple[bytes, dict[str, str]]:
    """GET the link with no session at all: the token alone is the credential."""
    response = Client().get(path_of(url), **headers)  # type: ignore[arg-type]
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content)  # type: ignore[arg-type]
    return body, dict(response.headers)
