from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from tests.support.media import FACE_WITH_AUDIO

pytestmark = pytest.mark.django_db


def test_it_creates_one_job_per_template_in_order_and_queues_on_commit(
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    django_capture_on_commit_callbacks,
) -> None:
    a = make_template(name="a.mp4")
    b = make_template(FACE_WITH_AUDIO, name="b.mp4")
    with django_capture_on_commit_callbacks() as callbacks:
        batch = services.batch_create(
            owner=owner, audio_id=audio_clip.pk, template_ids=[b.pk, a.pk], name="Launch"
        )
    jobs = list(batch.jobs.order_by("position"))
    assert [(j.position, j.template_name, j.status) for j in jobs] == [
        (1, "b.mp4", JobStatus.QUEUED),
        (2, "a.mp4", JobStatus.QUEUED),
    ]
    assert (batch.name, batch.engine, batch.audio) == ("Launch", "classic", audio_clip)
    assert len(callbacks) == 1  # batch_prepare, only once the rows are committed


def test_it_names_a_batch_by_default(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    assert batch.name.startswith("batch_") and len(batch.name) == len("batch_20261121_1423")


def test_it_refuses_another_users_files_and_creates_nothing(
    owner: User, other: User, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> None:
    foreign = make_template(user=other)
    with pytest.raises(ValidationError, match="no longer available"):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[foreign.pk])
    with pytest.raises(ValidationError, match="audio file is no longer available"):
        services.batch_create(owner=other, audio_id=audio_clip.pk, template_ids=[foreign.pk])
    assert not Batch.objects.exists() and not RenderJob.objects.exists()


def test_it_refuses_an_empty_batch_and_too_many_templates(
    owner: User, audio_clip: AudioClip, template: Template, settings
) -> None:
    with pytest.raises(ValidationError, match="Pick at least one template"):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[])
    settings.MAX_TEMPLATES_PER_BATCH = 1
    with pytest.raises(ValidationError, match="at most 1 templates; you picked 2"):
        services.batch_create(
            owner=owner,
            audio_id=audio_clip.pk,
            template_ids=[template.pk, "00000000-0000-0000-0000-000000000000"],
        )


def test_it_keeps_a_user_within_their_concurrent_jobs_limit(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    owner.max_concurrent_jobs = 2
    owner.save()
    services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    with pytest.raises(
        ValidationError, match="You have 2 videos queued or rendering and your limit is 2"
    ):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    assert Batch.objects.count() == 2


def test_it_refuses_an_unknown_engine(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    with pytest.raises(ValidationError, match="engine “warp9” is not available"):
        services.batch_create(
            owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], engine="warp9"
        )


def test_the_new_batch_page_starts_a_batch_and_shows_errors(
    owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    page = owner_client.get(reverse("batch_new"))
    assert page.status_code == 200
    assert b"Start batch" in page.content and b"batch_20" in page.content
    response = owner_client.post(
        reverse("batch_new"),
        {"audio": str(audio_clip.pk), "templates": [str(template.pk)], "name": "From the page"},
    )
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "batch_detail", args=[batch.pk]
    )
    error = owner_client.post(reverse("batch_new"), {"audio": str(audio_clip.pk), "name": "x"})
    assert "Pick at least one template video." in error.content.decode()
