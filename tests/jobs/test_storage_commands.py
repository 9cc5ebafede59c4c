from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, Template
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_storage_usage_reports_drift_and_fixes_it(
    owner: User, other: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"0123456789")
    truth = audio_clip.size_bytes + template.size_bytes + 10
    # Drift of both kinds: the counter is off, and a file on disk grew behind the row's back.
    User.objects.filter(pk=owner.pk).update(storage_used_bytes=5)
    (Path(settings.MEDIA_ROOT) / batch.jobs.get().output.name).write_bytes(b"0123456789AB")
    report = _run("storage_usage")
    assert f"owner@example.com: recorded 5 B (5\xa0bytes), on disk {truth + 2} B" in report
    assert "drift" in report and "2 users checked, 1 with drift." in report
    owner.refresh_from_db()
    assert owner.storage_used_bytes == 5  # reporting alone changes nothing
    assert "fixed" in _run("storage_usage", "--fix")
    owner.refresh_from_db()
    assert owner.storage_used_bytes == truth + 2 and batch.jobs.get().output_size == 12
    assert _run("storage_usage").strip() == "2 users checked, 0 with drift."


def test_storage_cleanup_runs_retention_quota_and_sweep(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    services.batch_cancel(batch=batch)
    Batch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(days=30))
    report = _run("storage_cleanup", "--ensure-schedule")
    assert "retention: removed 1 batches" in report
    assert "quota cleanup: removed 0 items" in report and "sweep: purged" in report
    assert not Batch.all_objects.exists()  # the sweep finished the deletion
    assert _run("storage_cleanup", "--sweep").startswith("sweep: purged 0 jobs")
