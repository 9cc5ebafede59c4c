"""Sentences once: rows keep codes and parameters, and the one catalogue (jobs.user_errors)
words them in the reader's language: the watchdog's, the worker's and the limits' own
failures, the library's codes, quality reasons, and webhooks in the owner's language."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation

from accounts.models import User
from jobs import services, user_errors
from jobs.library.face_checks import templates_resend_stranded
from jobs.models import AudioClip, FaceStatus, JobStatus, RenderJob, Template
from jobs.render import lifecycle
from jobs.render.worker import preparation
from jobs.webhooks.payloads import batch_event_data, job_event_data

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
HAN = re.compile(r"[\u4e00-\u9fff]")
# Never a row's failure: transcription problems become the batch's transcript note
# (jobs.words.transcripts.NOTES; the videos render without words), and the packaged model's
# assembly is bootstrap's (the command line).
NOT_A_FAILURE = {"transcription_failed", "transcripts_off", "whisper_packages_missing"}


def _library_codes() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "rendering").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'\bcode="([a-z_]+)"', text))
        codes |= set(re.findall(r'default_code[^=]*= "([a-z_]+)"', text))
    return codes


def test_every_code_the_library_raises_is_worded_in_both_languages() -> None:
    codes = _library_codes() - NOT_A_FAILURE
    assert {"no_face", "media_invalid", "canceled", "segment_empty"} <= codes
    catalogue = set(user_errors.SENTENCES) | set(user_errors.GENERAL)
    assert codes <= catalogue, sorted(codes - catalogue)
    for code in codes & set(user_errors.SENTENCES):
        with translation.override("zh-hans"):
            chinese = user_errors.error_text(code, {}, "")
        assert HAN.search(chinese), code


def test_every_step_the_recipe_and_the_worker_log_is_worded_in_both_languages() -> None:
    sources = [
        ROOT / "rendering" / "recipe.py",
        *(ROOT / "jobs" / "render" / "worker").glob("*.py"),
    ]
    codes: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:on_step|\.add|\.failure)\(\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'code="([a-z_]+)"', text)) & set(user_errors.STEPS)
    codes |= {"failed"}  # JobLog.failure's default
    assert {"audio_ready", "face_track", "rendered", "quality", "attempt", "split"} <= codes
    assert codes <= set(user_errors.STEPS), sorted(codes - set(user_errors.STEPS))
    for code in codes:
        with translation.override("zh-hans"):
            assert HAN.search(str(user_errors.STEPS[code])), code


def _running_job(owner: User, audio_clip: AudioClip, template: Template) -> RenderJob:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    assert lifecycle.job_claim(job_id=job.pk)
    return RenderJob.objects.select_related("batch__owner").get(pk=job.pk)


def test_a_lost_worker_is_stored_as_a_code_and_worded_from_the_catalogue(
    owner: User, audio_clip: AudioClip, template: Template, settings
) -> None:
    job = _running_job(owner, audio_clip, template)
    settings.RENDER_MAX_ATTEMPTS = 1
    later = timezone.now() + timedelta(seconds=settings.JOB_STALE_AFTER + 5)

    assert lifecycle.jobs_requeue_stale(now=later) == (0, 1)

    job.refresh_from_db()
    assert (job.error_code, job.error_params) == ("worker_lost", {"attempts": 1})
    # The English column is the catalogue's English, not a sentence of the watchdog's own.
    assert job.error_message == user_errors.english("worker_lost", {"attempts": 1})
    assert job.error_message.startswith("The renderer stopped while working on this video 1 times")
    with translation.override("zh-hans"):
        assert HAN.search(user_errors.job_error_text(job))


def test_a_face_check_that_keeps_killing_workers_fails_with_the_catalogues_sentence(
    template: Template, settings
) -> None:
    settings.RENDER_MAX_ATTEMPTS = 1
    Template.objects.filter(pk=template.pk).update(
        face_status=FaceStatus.PENDING,
        face_queued_at=timezone.now() - timedelta(hours=1),
        face_heartbeat_at=timezone.now() - timedelta(hours=1),
        face_attempts=1,
    )

    assert templates_resend_stranded() == (0, 1)

    template.refresh_from_db()
    assert template.face_error_code == "face_check_lost"
    assert template.face_error == user_errors.english("face_check_lost", {"attempts": 1})
    with translation.override("zh-hans"):
        assert HAN.search(user_errors.template_face_error_text(template))


def test_a_lost_preparation_fails_the_queued_jobs_with_the_catalogues_sentence(
    owner: User, audio_clip: AudioClip, template: Template, settings
) -> None:
    settings.RENDER_MAX_ATTEMPTS = 1
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    old = timezone.now() - timedelta(hours=1)
    type(batch).objects.filter(pk=batch.pk).update(
        prepare_queued_at=old, prepare_heartbeat_at=old, prepare_attempts=1
    )

    from jobs.render import leases

    assert leases.sweep(preparation.PREPARE_LEASE).failed == 1

    job = batch.jobs.get()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "preparation_lost")
    assert job.error_message == user_errors.english("preparation_lost", {"attempts": 1})


def test_webhooks_word_a_failure_in_the_owners_language_and_carry_its_code(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    job = _running_job(owner, audio_clip, template)
    lifecycle.job_fail(job=job, code="segment_failed", params={"part": 3, "parts": 5})

    english = job_event_data(job.pk)
    assert english is not None
    assert english["job"]["error_code"] == "segment_failed"
    assert english["job"]["error_message"].startswith("Part 3 of 5 of this video")

    User.objects.filter(pk=owner.pk).update(language="zh-hans")
    chinese = job_event_data(job.pk)
    completed = batch_event_data(job.batch_id)
    assert chinese is not None and completed is not None
    assert HAN.search(chinese["job"]["error_message"])
    assert completed["batch"]["jobs"][0]["error_message"] == chinese["job"]["error_message"]
    assert translation.get_language() == "en"  # the owner's language was only borrowed


def test_rows_from_before_the_codes_still_show_their_english(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    job = _running_job(owner, audio_clip, template)
    RenderJob.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED,
        error_code="",
        error_params={},
        error_message="Template video has no usable face.",
    )
    job.refresh_from_db()

    with translation.override("en"):
        assert user_errors.job_error_text(job) == "Template video has no usable face."
    with translation.override("zh-hans"):
        assert HAN.search(user_errors.job_error_text(job))


def test_quality_reasons_are_worded_by_the_catalogue() -> None:
    report = {
        "reasons": ["sync_low", "unedited_turned", "something_new"],
        "unedited": [{"cause": "turned", "share": 0.25, "ranges": [[1.0, 2.5]]}],
    }
    with translation.override("en"):
        reasons = user_errors.quality_reasons(report)
    assert reasons[0] == "The mouth does not follow the words closely."
    assert "25 %" in reasons[1] and "1.0–2.5 s" in reasons[1]
    assert reasons[2] == "A measurement of this video looks unusual."
    with translation.override("zh-hans"):
        assert all(HAN.search(r) for r in user_errors.quality_reasons(report))
