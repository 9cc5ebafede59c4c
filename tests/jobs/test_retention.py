from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, Notice, RenderJob, Template
from jobs.storage import cleanup
from jobs.storage.retention import retention_apply
from tests.support.jobs import finish_job
from tests.support.media import FACE_WITH_AUDIO, uploaded
from tests.support.storage import user_files, write_noise_wav

pytestmark = pytest.mark.django_db


def _age(row: object, days: float) -> None:
    type(row).all_objects.filter(pk=row.pk).update(  # type: ignore[attr-defined]
        created_at=timezone.now() - timedelta(days=days)
    )


def test_it_removes_exactly_what_is_older_than_the_retention_period(
    owner: User,
    other: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    tmp_path: Path,
    django_capture_on_commit_callbacks,
) -> None:
    """Retention 7 days, clock moved to 'now': 8-day-old things go, 6-day-old ones stay."""
    old_template = make_template()
    new_template = make_template(path=FACE_WITH_AUDIO)
    old_batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[old_template.pk], name="old"
    )
    new_batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[new_template.pk], name="new"
    )
    old_busy = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[new_template.pk], name="old busy"
    )
    old_result = finish_job(old_batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"old")
    finish_job(new_batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"new")
    lone_audio = services.audio_upload(
        owner=owner, uploaded=uploaded(write_noise_wav(tmp_path / "v.wav", seed=1))
    )
    others = services.audio_upload(
        owner=other, uploaded=uploaded(write_noise_wav(tmp_path / "o.wav", seed=2))
    )
    for row in (old_template, old_batch, old_busy, audio_clip, lone_audio, others):
        _age(row, 8)
    for row in (new_template, new_batch):
        _age(row, 6)
    User.objects.filter(pk=other.pk).update(retention_days=30)

    with django_capture_on_commit_callbacks(execute=True):
        result = retention_apply(now=timezone.now())

    assert (result.batches, result.templates, result.audio) == (1, 1, 1)
    assert set(Batch.objects.values_list("name", flat=True)) == {"new", "old busy"}
    # The template of a queued video and the audio of kept batches stay.
    assert set(Template.objects.all()) == {new_template}
    assert set(AudioClip.objects.all()) == {audio_clip, others}
    assert not Batch.all_objects.filter(name="old").exists()  # rows gone, not just hidden
    assert old_result is not None and not old_result.exists()
    kept = {p.relative_to(settings.MEDIA_ROOT).as_posix() for p in user_files(owner)}
    assert new_template.file.name in kept and lone_audio.file.name not in kept
    owner.refresh_from_db()
    assert owner.storage_used_bytes == (
        audio_clip.size_bytes + new_template.size_bytes + len(b"new")
    )
    assert Notice.objects.filter(owner=owner).count() == 1
    # A second run on the same clock finds nothing more.
    assert retention_apply(now=timezone.now()).batches == 0


def test_it_keeps_everything_until_the_clock_passes_the_period(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    services.batch_cancel(batch=batch)
    assert retention_apply(now=timezone.now() + timedelta(days=6, hours=23)).batches == 0
    assert retention_apply(now=timezone.now() + timedelta(days=7, minutes=1)).batches == 1
    assert not Batch.objects.exists() and not RenderJob.objects.exists()


def test_history_says_when_each_batch_expires(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    """Rounded the way people count: a minute old with 7 days' retention is 7 days left."""
    assert owner.retention_days == 7
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])

    def expires(age: timedelta) -> str:
        Batch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - age)
        page = owner_client.get(reverse("history")).content.decode()
        return page.split('data-testid="expires">', 1)[1].split("<", 1)[0]

    assert expires(timedelta(minutes=1)) == "expires in 7 days"
    assert expires(timedelta(days=4, hours=1)) == "expires in 3 days"
    assert expires(timedelta(days=3, hours=23)) == "expires in 3 days"
    assert expires(timedelta(days=6, hours=12)) == "expires in 12 hours"
    assert expires(timedelta(days=6, hours=23, minutes=50)) == "expires soon"


def test_the_maintenance_schedule_exists_once_after_repeated_starts() -> None:
    migration = importlib.import_module(cleanup.SCHEDULE_MIGRATION)
    assert Schedule.objects.filter(name=cleanup.SCHEDULE_NAME).count() == 1  # from migrate
    for _ in range(3):
        migration.create(apps, None)
        cleanup.schedule_ensure()
    schedules = Schedule.objects.filter(func="jobs.tasks.storage_maintenance")
    assert schedules.count() == 1
    only = schedules.get()
    assert (only.name, only.schedule_type, only.minutes) == (cleanup.SCHEDULE_NAME, "I", 60)


def test_the_maintenance_task_runs_every_step(owner: User) -> None:
    from jobs import tasks

    summary = tasks.storage_maintenance()
    assert summary.startswith("retention: 0 batches") and "sweep: purged" in summary
