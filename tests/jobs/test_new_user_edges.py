"""Server-side rough edges a new user hit (issue 14): each test failed before its fix."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.export import export_archive, export_link_create
from jobs.models import AudioClip, FaceStatus, JobStatus, RenderJob, Template
from tests.support.jobs import finish_job
from tests.support.media import FACE_WITH_AUDIO, uploaded

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def _faceless(template: Template) -> Template:
    Template.objects.filter(pk=template.pk).update(
        face_status=FaceStatus.FAILED, face_error="No face.", face_error_code="no_face"
    )
    template.refresh_from_db()
    return template


# --- A template whose face check failed ------------------------------------------------------


def test_a_faceless_template_is_refused_before_the_start_by_name(
    owner: User, owner_client: Client, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> None:
    good = make_template()
    bad = _faceless(make_template(FACE_WITH_AUDIO, name="side_view.mp4"))
    with pytest.raises(ValidationError, match=r"side_view\.mp4"):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[good.pk, bad.pk])
    page = owner_client.post(
        reverse("batch_new"),
        {"audio": audio_clip.pk, "templates": [good.pk, bad.pk], "name": "x"},
        **ZH,
    )
    assert page.status_code == 200  # no batch: the page says why
    error = page.context["error"]
    assert "side_view.mp4" in error and "人脸" in error
    assert not owner.batches.exists()


def _failed_for_no_face(owner: User, audio_clip: AudioClip, template: Template) -> RenderJob:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    finish_job(
        job, status=JobStatus.FAILED, error="We could not find one clear face.", code="no_face"
    )
    _faceless(template)
    return job


def test_no_retry_is_offered_that_cannot_succeed_and_the_page_says_why(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    job = _failed_for_no_face(owner, audio_clip, template)
    state = owner_client.get(reverse("batch_progress", args=[job.batch_id])).json()
    (card,) = state["jobs"]
    assert "no usable face" in card["retry_blocked"]
    assert state["retryable"] is False
    # Pressed anyway (an old page): refused with the reason, the job stays failed.
    response = owner_client.post(reverse("job_retry", args=[job.pk]), follow=True)
    assert "no usable face" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1
    with pytest.raises(ValidationError, match="Nothing was retried"):
        services.batch_retry_failed(batch=job.batch)


def test_a_retry_that_can_succeed_is_still_offered(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(batch.jobs.get(), status=JobStatus.FAILED, error="Boom.", code="unexpected")
    state = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()
    assert state["jobs"][0]["retry_blocked"] == "" and state["retryable"] is True
    assert services.batch_retry_failed(batch=batch) == 1


# --- Audio too short to speak ------------------------------------------------------------------


def _wav(path: Path, seconds: float) -> Path:
    rate = 16000
    samples = (
        0.3 * np.sin(np.arange(int(rate * seconds)) * 2 * np.pi * 220 / rate) * 32767
    ).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def test_audio_shorter_than_half_a_second_is_refused_with_a_sentence(
    owner: User, owner_client: Client, tmp_path: Path
) -> None:
    blip = _wav(tmp_path / "blip.wav", 0.05)
    with pytest.raises(ValidationError, match=r"only 50 ms long.*at least 500 ms"):
        services.audio_upload(owner=owner, uploaded=uploaded(blip))
    with blip.open("rb") as handle:
        answer = owner_client.post(reverse("audio_upload"), {"file": handle}, **ZH)
    assert answer.status_code == 400
    assert "50 毫秒" in answer.json()["error"]["message"]
    assert not AudioClip.objects.filter(owner=owner).exists()
    # Half a second is enough.
    services.audio_upload(owner=owner, uploaded=uploaded(_wav(tmp_path / "ok.wav", 0.6)))


# --- Numbers that went stale -------------------------------------------------------------------


def test_the_progress_json_carries_the_zip_size_now(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    before = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()["export_bytes"]
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=bytes(9000))
    after = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()["export_bytes"]
    assert after == export_archive(batches=[batch]).size and after > before + 9000


# --- An expired download link ------------------------------------------------------------------


def test_an_expired_link_says_so_and_offers_its_owner_a_new_one(
    owner: User,
    owner_client: Client,
    other_client: Client,
    client: Client,
    audio_clip: AudioClip,
    template: Template,
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"mp4")
    link = export_link_create(user=owner, batch_ids=[batch.pk], now=1_000_000_000)
    page = owner_client.get(link.url)
    assert page.status_code == 410
    html = page.content.decode()
    assert "This download link has expired" in html
    assert 'data-testid="renew-link"' in html and str(batch.pk) in html
    # The new link works.
    renewed = owner_client.post(reverse("batches_export_selected"), {"batch": [batch.pk]})
    assert owner_client.get(renewed["Location"]).status_code == 200
    # Not the owner, or signed out: told it expired, offered nothing of someone else's.
    for visitor in (other_client, client):
        html = visitor.get(link.url).content.decode()
        assert "has expired" in html and str(batch.pk) not in html
    # Tampered: the same 404, saying the link does not work.
    html = owner_client.get(link.url[:-3] + "xyz", **ZH).content.decode()
    assert "下载链接无效" in html


# --- History search ------------------------------------------------------------------------------


def test_history_search_matches_template_and_audio_names(
    owner: User, owner_client: Client, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> None:
    template = make_template(name="studio_anna.mp4")
    services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name="Spring sale"
    )
    for term in ("Spring", "anna", "speech.wav"):
        rows = owner_client.get(reverse("history"), {"q": term}).context["rows"]
        assert [r["batch"].name for r in rows] == ["Spring sale"], term
    assert owner_client.get(reverse("history"), {"q": "nothing"}).context["rows"] == []


# --- Errors in the reader's language -------------------------------------------------------------


def test_a_render_error_reads_in_the_users_language_from_its_code(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(
        batch.jobs.get(),
        status=JobStatus.FAILED,
        error="This video runs at 240 frames per second; the limit is 120. Export it at 30 or 60 frames per second.",
        code="fps_too_high",
        params={"fps": 240, "max_fps": 120},
    )
    zh = owner_client.get(reverse("batch_progress", args=[batch.pk]), **ZH).json()["jobs"][0]
    assert zh["error_message"] == "此视频为每秒 240 帧，上限为 120。请以每秒 30 或 60 帧导出。"
    en = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()["jobs"][0]
    assert en["error_message"].startswith("This video runs at 240 frames per second")
    # The API says it by Accept-Language too, with the stable code beside it.
    api = owner_client.get(f"/api/v1/jobs/{batch.jobs.get().pk}/", **ZH).json()
    assert api["error_code"] == "fps_too_high" and "240 帧" in api["error"]


def test_too_little_face_reads_in_the_users_language(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    """The classic engine's coverage refusal (rendering.engines.classic) carries its percent."""
    from rendering.engines.classic import _TOO_LITTLE_FACE

    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(
        batch.jobs.get(),
        status=JobStatus.FAILED,
        error=_TOO_LITTLE_FACE.format(percent=23),
        code="face_too_little",
        params={"percent": 23},
    )
    zh = owner_client.get(reverse("batch_progress", args=[batch.pk]), **ZH).json()["jobs"][0]
    assert zh["error_message"].startswith("这段视频中只有 23% 的画面可以使用人脸")
    en = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()["jobs"][0]
    assert en["error_message"] == _TOO_LITTLE_FACE.format(percent=23)


def test_api_errors_follow_accept_language(owner_client: Client) -> None:
    zh = owner_client.get("/api/v1/batches/", {"status": "bogus"}, **ZH)
    assert zh.status_code == 400
    assert zh.json()["error"]["message"].startswith("status 必须是以下之一：")
    en = owner_client.get("/api/v1/batches/", {"status": "bogus"}, HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["error"]["message"].startswith("status must be one of: ")
