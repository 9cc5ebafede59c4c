"""Every URL that takes an id of user data answers 404 to another signed-in user (never
403-with-a-hint), and works for its owner (so this test can fail). Grow the list with every
new view that takes an id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template, Webhook

pytestmark = pytest.mark.django_db

# (url name, which object's id, method)
USER_DATA_URLS = [
    ("batch_detail", "batch", "get"),
    ("batch_progress", "batch", "get"),
    ("batch_cancel", "batch", "post"),
    ("batch_retry", "batch", "post"),
    ("batch_delete", "batch", "post"),
    ("batch_export", "batch", "post"),
    ("job_video", "job", "get"),
    ("job_download", "job", "get"),
    ("job_retry", "job", "post"),
    ("job_delete", "job", "post"),
    ("template_thumbnail", "template", "get"),
    ("template_video", "template", "get"),
    ("template_delete", "template", "post"),
    ("webhook_ping", "webhook", "post"),
    ("webhook_toggle", "webhook", "post"),
    ("webhook_rotate_secret", "webhook", "post"),
    ("webhook_delete", "webhook", "post"),
]


@pytest.fixture
def objects(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> dict[str, object]:
    template = make_template()
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    services.batch_cancel(batch=batch)
    job: RenderJob = batch.jobs.get()
    job.output.name = f"{owner.storage_prefix}/batches/{batch.pk.hex}/output_001.mp4"
    path = Path(settings.MEDIA_ROOT) / job.output.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"mp4")
    job.status, job.finished_at = JobStatus.SUCCEEDED, timezone.now()
    job.save()
    webhook = Webhook.objects.create(owner=owner, url="https://example.com/h", secret="whsec_t")
    return {
        "batch": batch,
        "job": job,
        "template": template,
        "audio": audio_clip,
        "webhook": webhook,
    }


@pytest.mark.parametrize(
    ("name", "kind", "method"), USER_DATA_URLS, ids=[u[0] for u in USER_DATA_URLS]
)
def test_another_user_gets_404(
    name: str,
    kind: str,
    method: str,
    objects: dict[str, object],
    other_client: Client,
    owner_client: Client,
) -> None:
    url = reverse(name, args=[objects[kind].pk])  # type: ignore[attr-defined]
    assert getattr(other_client, method)(url).status_code == 404
    # Nothing changed for the owner, and the owner does get an answer.
    assert Batch.objects.filter(pk=objects["batch"].pk).exists()  # type: ignore[attr-defined]
    assert getattr(owner_client, method)(url).status_code in {200, 206, 302}


def test_history_and_library_show_only_the_users_own(
    objects: dict[str, object], other_client: Client
) -> None:
    assert objects["batch"].name not in other_client.get(reverse("history")).content.decode()  # type: ignore[attr-defined]
    assert b"face.mp4" not in other_client.get(reverse("template_library")).content
    assert other_client.get(reverse("template_status")).json() == {"templates": []}
    new_page = other_client.get(reverse("batch_new")).content.decode()
    assert str(objects["audio"].pk) not in new_page and str(objects["template"].pk) not in new_page  # type: ignore[attr-defined]


def test_anonymous_visitors_are_sent_to_login(objects: dict[str, object], client: Client) -> None:
    for name, kind, method in USER_DATA_URLS:
        response = getattr(client, method)(reverse(name, args=[objects[kind].pk]))  # type: ignore[attr-defined]
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], name
