from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from jobs.models import AudioClip, Template
from tests.api.conftest import FIXTURES
from tests.support.media import files_under

pytestmark = pytest.mark.django_db


def test_it_uploads_audio_and_answers_with_its_facts(api: APIClient, owner: User) -> None:
    with open(FIXTURES / "speech.wav", "rb") as fh:
        response = api.post("/api/v1/audio/", {"file": fh}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "speech.wav" and body["sample_rate"] == 16000
    assert 4.5 < body["duration"] < 5.5
    assert AudioClip.objects.for_user(owner).get().pk.hex == body["id"].replace("-", "")
    assert api.get(f"/api/v1/audio/{body['id']}/").json() == body


def test_it_uploads_a_template_and_queues_its_face_check(api: APIClient, owner: User) -> None:
    with open(FIXTURES / "face.mp4", "rb") as fh:
        response = api.post("/api/v1/templates/", {"file": fh}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["face_status"] == "pending" and body["width"] > 0
    assert (
        api.get("/api/v1/templates/?face_status=pending").json()["results"][0]["id"] == body["id"]
    )
    assert api.get("/api/v1/templates/?face_status=ready").json()["results"] == []
    assert Template.objects.for_user(owner).count() == 1


def test_a_broken_file_gets_a_sentence_and_leaves_nothing(api: APIClient, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with open(bad, "rb") as fh:
        response = api.post("/api/v1/templates/", {"file": fh}, format="multipart")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (
        error["code"] == "invalid"
        and "Upload an MP4, MOV, WebM, MKV or AVI file" in error["message"]
    )
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    assert Template.objects.count() == 0


def test_a_missing_file_field_is_explained(api: APIClient) -> None:
    response = api.post("/api/v1/audio/", {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert "“file”" in response.json()["error"]["message"]


def test_an_upload_over_the_limit_answers_413_and_keeps_nothing(
    api: APIClient, settings, tmp_path: Path
) -> None:
    settings.MAX_UPLOAD_SIZE = 10_000
    big = tmp_path / "big.wav"
    big.write_bytes((FIXTURES / "speech.wav").read_bytes())
    with open(big, "rb") as fh:
        response = api.post("/api/v1/audio/", {"file": fh}, format="multipart")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_it_deletes_unused_audio_but_keeps_audio_a_batch_uses(
    api: APIClient, batch, owner: User
) -> None:
    with open(FIXTURES / "face_with_audio.mp4", "rb") as fh:
        spare = api.post("/api/v1/audio/", {"file": fh}, format="multipart").json()
    used_before = User.objects.get(pk=owner.pk).storage_used_bytes
    assert api.delete(f"/api/v1/audio/{spare['id']}/").status_code == 204
    assert User.objects.get(pk=owner.pk).storage_used_bytes == used_before - spare["size_bytes"]
    refused = api.delete(f"/api/v1/audio/{batch.audio_id}/")
    assert refused.status_code == 400
    assert "drives 1 batch" in refused.json()["error"]["message"]
    assert AudioClip.objects.filter(pk=batch.audio_id).exists()


def test_it_deletes_a_template_but_not_one_still_rendering(api: APIClient, batch) -> None:
    template = batch.jobs.first().template
    refused = api.delete(f"/api/v1/templates/{template.pk}/")
    assert refused.status_code == 400 and "still rendering" in refused.json()["error"]["message"]
    api.post(f"/api/v1/batches/{batch.pk}/cancel/")
    assert api.delete(f"/api/v1/templates/{template.pk}/").status_code == 204
    assert api.get(f"/api/v1/templates/{template.pk}/").status_code == 404
