"""A job deleted between the worker's claim and its load ends quietly: no exception, no
file, nothing rendered."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, JobStatus, RenderJob, Template
from jobs.render import lifecycle
from jobs.render.worker import runner

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed(owner: User, audio_clip: AudioClip, template: Template) -> RenderJob:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    assert lifecycle.job_claim(job_id=job.pk)
    return job


def test_it_ends_quietly_when_the_job_was_marked_after_its_claim(
    claimed: RenderJob, caplog: pytest.LogCaptureFixture
) -> None:
    services.batch_delete(batch=claimed.batch)  # marks; the purge waits for the commit
    row = RenderJob.all_objects.get(pk=claimed.pk)
    assert row.deleting_at is not None and row.status == JobStatus.CANCELED

    with caplog.at_level(logging.INFO, logger="heygem.jobs"):
        assert runner.job_run_claimed(job_id=claimed.pk) == "missing"
    assert "job deleted before it started" in caplog.text
    assert not list(Path(settings.MEDIA_ROOT).rglob("output_*"))
    assert RenderJob.all_objects.get(pk=claimed.pk).status == JobStatus.CANCELED


def test_it_ends_quietly_when_the_job_row_is_already_gone(
    claimed: RenderJob, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_delete(batch=claimed.batch)
    assert not RenderJob.all_objects.filter(pk=claimed.pk).exists()  # purged
    assert runner.job_run_claimed(job_id=claimed.pk) == "missing"
    # A second delivery of the task finds nothing to claim.
    assert runner.job_run(job_id=claimed.pk) == "not claimed"
