"""The upload's face check predicts the render: it applies the render's own test
(``rendering.faces.check_usable``), refuses with the render's sentence, and a job whose
cause a retry cannot change offers no Retry; a clip whose mouth never opens is allowed,
with advice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, FaceStatus, JobStatus, RenderJob, Template
from jobs.render.worker import preparation, runner
from rendering import faces
from rendering.audio import analyse
from rendering.engines.classic import ClassicEngine
from rendering.errors import FaceError
from tests.api.conftest import key_client
from tests.rendering.plain_av import FACE, decode, write_video
from tests.support.jobs import finish_job
from tests.support.media import SPEECH, uploaded

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def _brief_face(path: Path) -> Path:
    """The fixture face for its first 8 frames, then an empty wall for 67: usable in ~10 %."""
    frames = decode(FACE)
    wall = np.full_like(frames[0], 90)
    return write_video(path, [f if i < 8 else wall for i, f in enumerate(frames)])


def _closed_mouth(path: Path) -> Path:
    """Grace Hopper's photo (closed mouth), moving a little: a face that never opens."""
    from tests.rendering.turned_faces import framed_photo

    return write_video(
        path, [framed_photo("hopper", (256, 256), shift=(i % 6, i % 4)) for i in range(40)]
    )


def _upload(owner: User, path: Path, name: str) -> Template:
    template = services.template_upload(owner=owner, uploaded=uploaded(path, name))
    preparation.template_analyse(template_id=template.pk)
    template.refresh_from_db()
    return template


def test_a_template_the_render_would_refuse_is_refused_at_upload_with_its_sentence(
    owner: User, audio_clip: AudioClip, owner_client: Client, tmp_path: Path
) -> None:
    template = _upload(owner, _brief_face(tmp_path / "brief.mp4"), "brief.mp4")

    assert template.face_status == FaceStatus.FAILED
    assert template.face_error_code == "face_too_little"
    percent = template.face_error_params["percent"]
    assert 5 <= percent < 25
    sentence = faces.TOO_LITTLE_FACE.format(percent=percent)
    assert template.face_error == sentence

    # The render, given the same track, refuses with the very same sentence.
    track = faces.track(Path(template.file.path), cache_dir=None)
    with pytest.raises(FaceError) as caught:
        ClassicEngine().render(
            template=Path(template.file.path),
            track=track,
            audio=analyse(SPEECH, cache_dir=None),
            audio_path=SPEECH,
            out_path=tmp_path / "o.mp4",
        )
    assert caught.value.message == sentence

    # The upload card and the library say it, in English and Chinese.
    url = reverse("template_status") + f"?ids={template.pk}"
    (shown,) = owner_client.get(url).json()["templates"]
    assert shown["face_status"] == "failed" and shown["face_error"] == sentence
    (zh,) = owner_client.get(url, **ZH).json()["templates"]
    assert zh["face_error"].startswith(f"这段视频中只有 {percent}% 的画面可以使用人脸")
    api = key_client(owner).get(reverse("api:template-detail", args=[template.pk])).json()
    assert api["face_error_code"] == "face_too_little" and api["face_error"] == sentence

    # And it cannot join a batch.
    with pytest.raises(ValidationError):
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])


@pytest.mark.django_db(transaction=True)
def test_a_template_that_passed_an_older_check_is_refused_and_marked_by_the_worker(
    owner: User, audio_clip: AudioClip, tmp_path: Path
) -> None:
    """Checked before the face check applied the render's test: the worker refuses it with
    the same code and marks the template, so it is not offered again (nor retried)."""
    template = services.template_upload(
        owner=owner, uploaded=uploaded(_brief_face(tmp_path / "old.mp4"), "old.mp4")
    )
    Template.objects.filter(pk=template.pk).update(face_status=FaceStatus.READY, faces=[])
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    preparation.batch_prepare(batch_id=batch.pk)
    job = batch.jobs.get()

    assert runner.job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    template.refresh_from_db()
    assert job.error_code == "face_too_little"
    assert template.face_status == FaceStatus.FAILED
    assert template.face_error_code == "face_too_little"


def test_a_job_refused_for_too_little_face_offers_no_retry_until_another_face_passes(
    owner: User, audio_clip: AudioClip, template: Template, owner_client: Client
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    finish_job(
        job,
        status=JobStatus.FAILED,
        error=faces.TOO_LITTLE_FACE.format(percent=12),
        code="face_too_little",
        params={"percent": 12},
    )
    Template.objects.filter(pk=template.pk).update(
        face_status=FaceStatus.FAILED, face_error_code="face_too_little"
    )
    state = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()
    assert state["jobs"][0]["retry_blocked"].startswith("Not retried: the face is usable")
    assert not state["retryable"]
    api = key_client(owner).get(reverse("api:job-detail", args=[job.pk])).json()
    assert api["retry_blocked"].startswith("Not retried: the face is usable")
    zh = key_client(owner).get(reverse("api:job-detail", args=[job.pk]), **ZH).json()
    assert zh["retry_blocked"].startswith("未重试：此模板中可用人脸的画面太少")
    with pytest.raises(ValidationError):
        services.job_retry(job=RenderJob.objects.get(pk=job.pk))
    with pytest.raises(ValidationError):
        services.batch_retry_failed(batch=batch)

    # Another face chosen and checked ready: a retry may now succeed, and is offered.
    Template.objects.filter(pk=template.pk).update(face_status=FaceStatus.READY, face_error_code="")
    state = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()
    assert state["jobs"][0]["retry_blocked"] == "" and state["retryable"]
    assert services.job_retry(job=RenderJob.objects.get(pk=job.pk))


def test_a_clip_that_never_opens_its_mouth_is_allowed_with_advice(
    owner: User, audio_clip: AudioClip, owner_client: Client, tmp_path: Path
) -> None:
    template = _upload(owner, _closed_mouth(tmp_path / "closed.mp4"), "closed.mp4")

    assert template.face_status == FaceStatus.READY
    assert template.face_note == "mouth_never_open"
    url = reverse("template_status") + f"?ids={template.pk}"
    (shown,) = owner_client.get(url).json()["templates"]
    assert shown["face_note"] == (
        "This clip never shows the mouth open; a clip where you speak gives a far more "
        "natural result."
    )
    (zh,) = owner_client.get(url, **ZH).json()["templates"]
    assert zh["face_note"] == "这段视频里嘴巴从未张开；换一段您说话的视频，效果会自然得多。"
    page = owner_client.get(reverse("template_library")).content.decode()
    assert "never shows the mouth open" in page
    api = key_client(owner).get(reverse("api:template-detail", args=[template.pk])).json()
    assert api["face_note"].startswith("This clip never shows the mouth open")
    services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])


def test_a_speaking_clip_gets_no_advice(template: Template, owner_client: Client) -> None:
    preparation.template_analyse(template_id=template.pk)
    template.refresh_from_db()
    assert template.face_status == FaceStatus.READY and template.face_note == ""
    page = owner_client.get(reverse("template_library")).content.decode()
    assert "never shows the mouth open" not in page
