from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import ApiKeyScope, User
from accounts.services import api_key_create
from jobs import services
from jobs.models import AudioClip, Batch, Template

FIXTURES = Path(__file__).parents[1] / "fixtures"


def key_client(user: User, scope: str = ApiKeyScope.WRITE) -> APIClient:
    _key, raw = api_key_create(user=user, name=f"{scope} key", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(owner: User) -> APIClient:
    """The owner's read-write key."""
    return key_client(owner)


@pytest.fixture
def other_api(other: User) -> APIClient:
    return key_client(other)


@pytest.fixture
def batch(owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]) -> Batch:
    a = make_template(name="a.mp4")
    b = make_template(name="b.mp4", path=FIXTURES / "face_with_audio.mp4")
    return services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk], name="API batch"
    )


@pytest.fixture
def light_batch(owner: User) -> Batch:
    """A batch of two jobs over rows with small real files, without probing media: for the
    auth and isolation tests, which look at who may reach a row, not at what it holds."""
    folder = Path(settings.MEDIA_ROOT) / owner.storage_prefix
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.wav").write_bytes(b"RIFF")
    (folder / "t.mp4").write_bytes(b"mp4")
    audio = AudioClip.objects.create(
        owner=owner,
        file=f"{owner.storage_prefix}/a.wav",
        original_name="a.wav",
        content_hash="a" * 64,
        size_bytes=4,
        duration=1.0,
        sample_rate=16000,
    )
    template = Template.objects.create(
        owner=owner,
        file=f"{owner.storage_prefix}/t.mp4",
        original_name="t.mp4",
        content_hash="b" * 64,
        size_bytes=3,
        width=64,
        height=64,
        fps=25.0,
        duration=1.0,
        face_status="ready",
    )
    return services.batch_create(
        owner=owner, audio_id=audio.pk, template_ids=[template.pk], name="light"
    )
