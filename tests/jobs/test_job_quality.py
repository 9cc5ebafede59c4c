"""A quality report per result: the worker measures every finished video, stores the report
on its job, and the batch page, the API and webhooks show it; a measurement that breaks
never fails a video that rendered."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import selectors, services
from jobs.models import AudioClip, JobStatus, RenderJob, Template
from jobs.render.job_log import log_text
from jobs.render.worker import preparation, runner
from rendering import media
from tests.api.conftest import key_client
from tests.support.jobs import finish_job
from tests.support.media import SPEECH, uploaded

REPORT_KEYS = {
    "basis",
    "unedited",
    "sync",
    "best_offset",
    "confidence",
    "psnr_outside",
    "coverage",
    "frames_measured",
    "review",
    "reasons",
}


def _render(owner: User, audio: AudioClip, template: Template) -> RenderJob:
    batch = services.batch_create(owner=owner, audio_id=audio.pk, template_ids=[template.pk])
    preparation.batch_prepare(batch_id=batch.pk)
    job = batch.jobs.get()
    assert runner.job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_the_worker_stores_a_report_that_the_page_and_the_api_show(
    owner: User, audio_clip: AudioClip, template: Template, owner_client: Client
) -> None:
    job = _render(owner, audio_clip, template)

    report = job.quality
    assert report is not None and set(report) == REPORT_KEYS
    assert isinstance(report["sync"], float) and -1.0 <= report["sync"] <= 1.0
    assert report["coverage"] > 0.9 and report["frames_measured"] > 100
    assert report["review"] == bool(report["reasons"])
    assert "Quality: sync " in log_text(job.log)

    # The one job payload (pages, API, webhooks) carries it.
    assert selectors.job_payload(job)["quality"] == report
    api = key_client(owner).get(reverse("api:job-detail", args=[job.pk])).json()
    assert api["quality"] == report
    state = owner_client.get(reverse("batch_progress", args=[job.batch_id])).json()
    shown = state["jobs"][0]
    assert shown["quality"] == report
    assert shown["quality_view"]["sync_label"] == f"Sync {report['sync']:.2f}"
    page = owner_client.get(reverse("batch_detail", args=[job.batch_id])).content.decode()
    embedded = page.split('id="batch-state" type="application/json">')[1].split("</script>")[0]
    assert json.loads(embedded)["jobs"][0]["quality"] == report


@pytest.mark.django_db
def test_a_result_to_review_says_why_in_words(
    owner: User, audio_clip: AudioClip, template: Template, owner_client: Client
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    finish_job(job, status=JobStatus.SUCCEEDED, content=b"video")
    RenderJob.objects.filter(pk=job.pk).update(
        quality={
            "sync": 0.31,
            "best_offset": 4,
            "confidence": 0.1,
            "psnr_outside": 41.0,
            "coverage": 0.4,
            "frames_measured": 120,
            "review": True,
            "reasons": ["sync_low", "sync_offset", "coverage_low", "changed_outside"],
        }
    )
    view = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()["jobs"][0]
    shown = view["quality_view"]
    assert shown["review"] is True and shown["review_label"] == "Please review"
    assert shown["sync_label"] == "Sync 0.31"
    assert len(shown["reasons"]) == 4
    assert all(r.endswith(".") and "_" not in r for r in shown["reasons"])
    assert "follow the words" in shown["reasons"][0]


@pytest.mark.django_db
def test_frames_left_unedited_are_worded_with_their_cause_share_and_times(
    owner: User, audio_clip: AudioClip, template: Template, owner_client: Client
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    finish_job(job, status=JobStatus.SUCCEEDED, content=b"video")
    RenderJob.objects.filter(pk=job.pk).update(
        quality={
            "sync": 0.8,
            "best_offset": 0,
            "confidence": 0.5,
            "psnr_outside": 41.0,
            "coverage": 0.7,
            "frames_measured": 120,
            "review": True,
            "reasons": ["unedited_turned"],
            "unedited": [
                {"cause": "turned", "share": 0.214, "ranges": [[0.0, 1.2], [4.5, 5.04]]},
                {"cause": "absent", "share": 0.04, "ranges": [[7.0, 7.24]]},
            ],
        }
    )
    url = reverse("batch_progress", args=[batch.pk])
    (en,) = owner_client.get(url).json()["jobs"][0]["quality_view"]["reasons"]
    assert en == (
        "The head is turned too far from the camera in 21 % of the video "
        "(0.0–1.2 s, 4.5–5.0 s), so the mouth was left as it was there."
    )
    (zh,) = owner_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["jobs"][0]["quality_view"][
        "reasons"
    ]
    assert (
        zh
        == "视频中有 21% 的画面（0.0–1.2 秒, 4.5–5.0 秒）头部偏离镜头太多，这些地方的嘴保持原样。"
    )


def _short_audio(owner: User, tmp_path: Path) -> AudioClip:
    """One second of the fixture speech as the owner's upload (a fast render)."""
    samples = media.read_audio(SPEECH)[:16000]
    path = tmp_path / "short.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return services.audio_upload(owner=owner, uploaded=uploaded(path, "hello.wav"))


@pytest.mark.django_db(transaction=True)
def test_a_broken_measurement_leaves_the_job_succeeded(
    owner: User, template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rendering import quality

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("measurement exploded")

    monkeypatch.setattr(quality, "assess", broken)
    job = _render(owner, _short_audio(owner, tmp_path), template)
    assert job.status == JobStatus.SUCCEEDED and job.output
    assert job.quality is None
    assert "Quality not measured (RuntimeError)" in log_text(job.log)
