from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from accounts.models import User
from heygem_site.formats import size_label
from jobs import services
from jobs.models import AudioClip, Batch, RenderJob, Template
from jobs.storage import usage
from tests.support.media import FACE_WITH_AUDIO, files_under, uploaded
from tests.support.storage import write_noise_wav

pytestmark = pytest.mark.django_db


def _set_room(user: User, room: int) -> None:
    """Set the quota to what the user stores now plus `room` bytes."""
    user.refresh_from_db()
    User.objects.filter(pk=user.pk).update(storage_quota_bytes=user.storage_used_bytes + room)
    user.refresh_from_db()


def test_it_refuses_an_upload_over_quota_with_the_numbers_and_keeps_no_file(
    owner: User, owner_client: Client, audio_clip: AudioClip
) -> None:
    before = files_under(Path(settings.MEDIA_ROOT))
    _set_room(owner, 1000)
    response = owner_client.post(
        reverse("template_upload"),
        {"file": SimpleUploadedFile("big.mp4", FACE_WITH_AUDIO.read_bytes())},
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("You are using ") and "this file needs about" in message
    assert "ask us for a larger quota" in message
    assert files_under(Path(settings.MEDIA_ROOT)) == before  # nothing half-created
    assert not Template.objects.exists()
    owner.refresh_from_db()
    assert owner.storage_used_bytes == audio_clip.size_bytes


def test_it_refuses_a_batch_that_would_not_fit_and_creates_nothing(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    _set_room(owner, 10)
    with pytest.raises(ValidationError) as caught:
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    message = caught.value.messages[0]
    used = size_label(owner.storage_used_bytes)
    quota = size_label(owner.storage_quota_bytes)
    assert message.startswith(f"You are using {used} of {quota}, so {size_label(10)} is free; ")
    needed = usage.estimate_output_bytes(audio=audio_clip, template=template)
    short = f"{size_label(needed - 10)} more than is free"
    assert "this batch needs about" in message and short in message
    assert not Batch.objects.exists() and not RenderJob.objects.exists()


def test_it_counts_videos_still_rendering_against_the_quota(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    first = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    estimate = first.jobs.get().estimated_output_bytes
    assert estimate > 0
    # Room for one more estimate but not two: the queued job's share is already spoken for.
    _set_room(owner, estimate + estimate // 2)
    with pytest.raises(ValidationError, match="set aside for videos still rendering"):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    services.batch_cancel(batch=first)  # finished jobs hold no reservation
    services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])


def test_it_still_refuses_too_many_templates_and_too_many_jobs(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template], settings
) -> None:
    a = make_template()
    b = make_template(path=FACE_WITH_AUDIO)
    settings.MAX_TEMPLATES_PER_BATCH = 1
    with pytest.raises(ValidationError, match="at most 1 templates"):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk])
    settings.MAX_TEMPLATES_PER_BATCH = 5
    User.objects.filter(pk=owner.pk).update(max_concurrent_jobs=1)
    owner.refresh_from_db()
    with pytest.raises(ValidationError, match="your limit is 1 at once"):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk])


@pytest.mark.django_db(transaction=True)
def test_it_never_lets_parallel_uploads_pass_the_quota(owner: User, tmp_path: Path) -> None:
    """Eight uploads at once with room for exactly three: three are kept, five refused.

    PostgreSQL only (CI's second leg): SQLite serialises every writer, so there the threads
    cannot race and the test would prove nothing about the owner-row lock."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises every writer, so threads cannot race there"
        )
    files = [write_noise_wav(tmp_path / f"voice{i}.wav", seed=i) for i in range(8)]
    size = files[0].stat().st_size
    assert {f.stat().st_size for f in files} == {size}
    _set_room(owner, 3 * size + size // 2)
    start = threading.Barrier(len(files))
    outcomes: list[str] = []

    def upload(path: Path) -> None:
        try:
            start.wait()
            services.audio_upload(owner=owner, uploaded=uploaded(path))
            outcomes.append("kept")
        except ValidationError as exc:
            assert "You are using" in exc.messages[0]
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload, args=(f,)) for f in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["kept"] * 3 + ["refused"] * 5
    owner.refresh_from_db()
    assert owner.storage_used_bytes == 3 * size <= owner.storage_quota_bytes
    assert AudioClip.objects.count() == 3
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 3  # refused uploads left no file
