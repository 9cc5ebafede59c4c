from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs.models import AudioClip, FaceStatus, Template
from tests.support.media import FACE, FACE_WITH_AUDIO, SPEECH, files_under

pytestmark = pytest.mark.django_db


def _post(client: Client, url_name: str, path: Path, name: str | None = None):
    with path.open("rb") as handle:
        upload = SimpleUploadedFile(name or path.name, handle.read())
    return client.post(reverse(url_name), {"file": upload})


def test_it_keeps_an_uploaded_audio_in_the_owners_folder(owner_client: Client, owner: User) -> None:
    response = _post(owner_client, "audio_upload", SPEECH)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "speech.wav" and 3.0 < body["duration"] < 8.0
    clip = AudioClip.objects.get(pk=body["id"])
    assert clip.owner == owner and clip.sample_rate == 16000
    assert clip.file.name.startswith(f"users/{owner.storage_id}/audio/")
    assert "speech" not in clip.file.name  # generated names only; the original lives in the row
    assert (Path(settings.MEDIA_ROOT) / clip.file.name).stat().st_size == SPEECH.stat().st_size


def test_it_accepts_a_videos_sound_track_as_the_audio(owner_client: Client) -> None:
    response = _post(owner_client, "audio_upload", FACE_WITH_AUDIO)
    assert response.status_code == 201, response.content


def test_it_keeps_a_template_with_thumbnail_and_queues_its_face_analysis(
    owner_client: Client, owner: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(owner_client, "template_upload", FACE, "Anna – take 1.mp4")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["face_status"]) == ("Anna – take 1.mp4", FaceStatus.PENDING)
    assert body["width"] > 0 and body["height"] > 0 and body["fps"] == 25
    assert len(callbacks) == 1
    template = Template.objects.get(pk=body["id"])
    thumb = owner_client.get(body["thumbnail_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert b"".join(thumb.streaming_content)[:3] == b"\xff\xd8\xff"
    assert template.file.name.startswith(f"users/{owner.storage_id}/templates/")


def test_it_reuses_a_template_uploaded_twice(owner_client: Client) -> None:
    first = _post(owner_client, "template_upload", FACE).json()
    second = _post(owner_client, "template_upload", FACE, "again.mp4").json()
    assert first["id"] == second["id"]
    assert Template.objects.count() == 1


@pytest.mark.parametrize(
    ("url_name", "content", "name", "sentence"),
    [
        (
            "template_upload",
            b"hello, I am not a video\n" * 50,
            "holiday.mp4",
            "could not read this file",
        ),
        ("audio_upload", b"hello, I am not audio\n" * 50, "voice.wav", "could not read this file"),
        ("template_upload", None, "speech.mp4", "not a video we can read"),
    ],
    ids=["text-renamed-mp4", "text-renamed-wav", "audio-only-as-template"],
)
def test_it_rejects_bad_media_with_a_sentence_and_keeps_no_file(
    owner_client: Client, url_name: str, content: bytes | None, name: str, sentence: str
) -> None:
    data = content if content is not None else SPEECH.read_bytes()
    response = owner_client.post(reverse(url_name), {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert sentence in message.lower()
    assert message.endswith(".") and "Traceback" not in message
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    assert not AudioClip.objects.exists() and not Template.objects.exists()


def test_it_refuses_a_file_over_the_size_limit_and_leaves_nothing_behind(
    owner_client: Client, settings, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    settings.MAX_UPLOAD_SIZE = 10_000
    response = _post(owner_client, "template_upload", FACE)
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert message.startswith("This file is 27.") and "the upload limit is 9.8" in message
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    assert list(spool.iterdir()) == []  # the temporary upload is gone too
    assert not Template.objects.exists()


def test_it_says_when_no_file_arrived(owner_client: Client) -> None:
    response = owner_client.post(reverse("template_upload"), {})
    assert response.status_code == 400
    assert "No file arrived" in response.json()["error"]["message"]


def test_it_requires_a_login_to_upload(client: Client) -> None:
    response = client.post(reverse("audio_upload"), {})
    assert response.status_code == 302
