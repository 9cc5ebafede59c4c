"""A job's log is stored as codes and worded in the reader's language: a real failed render
(no face) and a real finished one, read by a Chinese and an English page, the admin and the
ZIP's manifest."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, JobStatus, Template
from jobs.render.job_log import JobLog, log_lines, log_text
from jobs.render.worker import preparation, runner
from tests.support.export import download, mint

pytestmark = pytest.mark.django_db(transaction=True)

# Runs of Latin letters that are words (not the engine's "CPU", units or numbers).
ENGLISH_WORD = re.compile(r"\b(?!CPU\b|GPU\b)[A-Za-z]{3,}\b")


def test_a_failed_and_a_finished_job_log_read_in_chinese_and_english(
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    no_face_video: Path,
    owner_client: Client,
    admin_client: Client,
) -> None:
    good = make_template(name="anna.mp4")
    broken = make_template(no_face_video, name="empty room.mp4")
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[broken.pk, good.pk]
    )
    preparation.batch_prepare(batch_id=batch.pk)
    for job in batch.jobs.order_by("position"):
        runner.job_run(job_id=job.pk)
    failed, done = batch.jobs.order_by("position")
    assert (failed.status, done.status) == (JobStatus.FAILED, JobStatus.SUCCEEDED)

    # Stored: codes and parameters, no sentence.
    stored = [json.loads(line) for line in failed.log.splitlines()]
    assert stored[0]["code"] == "attempt" and stored[0]["params"]["attempt"] == 1
    assert stored[-1]["code"] == "failed" and stored[-1]["params"]["error_code"] == "no_face"

    with translation.override("zh-hans"):
        zh_failed, zh_done = log_lines(failed.log), log_lines(done.log)
    assert zh_failed[0].endswith("第 1 次尝试，引擎：经典（CPU）")
    assert "失败：" in zh_failed[-1] and "人脸" in zh_failed[-1]
    assert any("音频分析完成" in line for line in zh_done)
    assert any(line.split("] ", 1)[1].startswith("质量：同步") for line in zh_done)
    for line in zh_failed + zh_done:
        assert not ENGLISH_WORD.search(line.split("] ", 1)[1]), line

    with translation.override("en"):
        en_failed = log_text(failed.log)
    assert "Attempt 1, engine: Classic (CPU)" in en_failed
    assert "Failed: We could not find one clear face" in en_failed

    # The batch page's JSON, in the reader's language.
    page = owner_client.get(
        reverse("batch_progress", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).json()
    shown = page["jobs"][0]["log"]
    assert "第 1 次尝试" in shown and "attempt" not in shown

    # The admin shows the worded log too.
    admin = admin_client.get(
        reverse("admin:jobs_renderjob_change", args=[failed.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Attempt 1, engine: Classic (CPU)" in admin.content.decode()

    # The ZIP's manifests word the failure for whoever downloads it, and keep its code.
    link = mint(owner_client, batch)
    body, _ = download(link["url"], HTTP_ACCEPT_LANGUAGE="zh-CN")
    archive = zipfile.ZipFile(io.BytesIO(body))
    item = json.loads(archive.read("manifest.json"))["items"][0]
    assert item["error_code"] == "no_face"
    assert "人脸" in item["error"] and not ENGLISH_WORD.search(item["error"])
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    assert rows[0]["error"] == item["error"] and rows[0]["error_code"] == "no_face"
    english, _ = download(link["url"], HTTP_ACCEPT_LANGUAGE="en")
    english_item = json.loads(zipfile.ZipFile(io.BytesIO(english)).read("manifest.json"))
    assert english_item["items"][0]["error"].startswith("We could not find one clear face")


def test_lines_from_older_rows_and_unknown_codes_still_read() -> None:
    joblog = JobLog()
    joblog.add("a_step_from_a_newer_worker", x=1)
    old = "[   0.0s] attempt 1, engine classic"
    with translation.override("zh-hans"):
        lines = log_lines(old + "\n" + joblog.text() + "\nTraceback (most recent call last):")
    assert lines[0] == old  # written before codes: shown as it was
    assert lines[1].endswith("a_step_from_a_newer_worker")
    assert lines[2].startswith("Traceback")
