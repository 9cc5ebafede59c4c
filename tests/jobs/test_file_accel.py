"""Large-file mode: nginx serves result files (X-Accel-Redirect) after Django checked the owner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.http import Http404
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, JobStatus, RenderJob, Template
from jobs.storage.serving import serve_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]) -> RenderJob:
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[make_template().pk], name="Big"
    )
    job = batch.jobs.get()
    job.output.name = f"{owner.storage_prefix}/batches/{batch.pk.hex}/output_001.mp4"
    path = Path(settings.MEDIA_ROOT) / job.output.name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00" * 4096)
    job.status, job.finished_at, job.output_size = JobStatus.SUCCEEDED, timezone.now(), 4096
    job.save()
    return job


def test_it_hands_the_file_to_nginx_when_enabled(
    job: RenderJob, owner_client: Client, settings
) -> None:
    settings.FILE_X_ACCEL_REDIRECT = True
    response = owner_client.get(reverse("job_download", args=[job.pk]))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_protected-media/{job.output.name}"
    assert response.content == b""  # nginx sends the bytes, not Python
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"].startswith("attachment;")


def test_it_streams_through_python_when_disabled(job: RenderJob, owner_client: Client) -> None:
    response = owner_client.get(reverse("job_download", args=[job.pk]))
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == b"\x00" * 4096  # type: ignore[attr-defined]


def test_another_user_gets_404_in_accel_mode(
    job: RenderJob, other_client: Client, settings
) -> None:
    settings.FILE_X_ACCEL_REDIRECT = True
    response = other_client.get(reverse("job_download", args=[job.pk]))
    assert response.status_code == 404 and "X-Accel-Redirect" not in response


@pytest.mark.parametrize("where", ["other-user", "outside-media", "dot-dot"])
def test_it_refuses_a_path_outside_the_users_folder(
    where: str, job: RenderJob, owner: User, other: User, owner_client: Client, settings
) -> None:
    settings.FILE_X_ACCEL_REDIRECT = True
    foreign = Path(settings.MEDIA_ROOT) / other.storage_prefix / "batches" / "x" / "output_001.mp4"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"secret")
    name = {
        "other-user": f"{other.storage_prefix}/batches/x/output_001.mp4",
        "outside-media": "/etc/passwd",
        "dot-dot": f"{owner.storage_prefix}/../{other.storage_prefix}/batches/x/output_001.mp4",
    }[where]
    # A row pointing elsewhere (a bug, a restored backup): the view refuses, both modes.
    RenderJob.objects.filter(pk=job.pk).update(output=name)
    for accel in (True, False):
        settings.FILE_X_ACCEL_REDIRECT = accel
        response = owner_client.get(reverse("job_download", args=[job.pk]))
        assert response.status_code == 404 and "X-Accel-Redirect" not in response
    request = RequestFactory().get("/")
    with pytest.raises(Http404):
        serve_file(
            request, name, download_name="x.mp4", as_attachment=True, within=owner.storage_prefix
        )
