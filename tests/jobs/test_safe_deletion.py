from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import selectors, services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from jobs.storage import deletion
from jobs.storage.cleanup import sweep
from tests.support.jobs import finish_job
from tests.support.media import FACE_WITH_AUDIO
from tests.support.storage import user_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def done_batch(owner: User, audio_clip: AudioClip, template: Template) -> Batch:
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name="Done"
    )
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"result bytes")
    return batch


def _later() -> object:
    # The sweeper's clock, past the grace period for young files.
    return timezone.now() + timedelta(seconds=settings.ORPHAN_FILE_GRACE + 60)


def test_a_crash_after_the_mark_hides_everything_and_the_sweep_finishes(
    owner: User, owner_client: Client, done_batch: Batch
) -> None:
    job = done_batch.jobs.get()
    output = Path(settings.MEDIA_ROOT) / job.output.name
    # Step 1 commits, then the process dies: the on-commit file and row deletion never runs.
    deletion.batches_mark(owner_id=owner.pk, batch_ids=[done_batch.pk])
    assert output.exists() and Batch.all_objects.filter(pk=done_batch.pk).exists()
    # Nothing of it is visible to the user...
    assert not selectors.batches_for_user(owner).exists()
    assert owner_client.get(reverse("batch_detail", args=[done_batch.pk])).status_code == 404
    assert owner_client.get(reverse("job_video", args=[job.pk])).status_code == 404
    assert "Done" not in owner_client.get(reverse("history")).content.decode()
    owner.refresh_from_db()
    assert owner.storage_used_bytes == sum(
        AudioClip.objects.for_user(owner).values_list("size_bytes", flat=True)
    ) + sum(Template.objects.for_user(owner).values_list("size_bytes", flat=True))
    # ...and the next sweep removes the files and the rows.
    result = sweep(now=_later())
    assert (result.purged.batches, result.orphan_files) == (1, 0)
    assert not output.exists() and not output.parent.exists()
    assert not Batch.all_objects.exists() and not RenderJob.all_objects.exists()


def test_a_crash_after_the_files_went_leaves_only_hidden_rows_for_the_sweep(
    owner: User, owner_client: Client, template: Template, done_batch: Batch
) -> None:
    services.batch_cancel(batch=done_batch)
    deletion.templates_mark(owner_id=owner.pk, template_ids=[template.pk])
    # Step 2 ran (files gone), step 3 did not (rows still there).
    (Path(settings.MEDIA_ROOT) / template.file.name).unlink()
    (Path(settings.MEDIA_ROOT) / template.thumbnail.name).unlink()
    assert owner_client.get(reverse("template_library")).context["templates"].count() == 0
    assert owner_client.get(reverse("template_thumbnail", args=[template.pk])).status_code == 404
    assert sweep(now=_later()).purged.templates == 1
    assert not Template.all_objects.exists()
    assert done_batch.jobs.get().template is None  # the result keeps working without it


def test_the_sweeper_removes_old_orphan_files_and_keeps_young_ones(
    owner: User, done_batch: Batch
) -> None:
    folder = Path(settings.MEDIA_ROOT) / owner.storage_prefix
    orphan = folder / "templates" / "left-behind.mp4"
    orphan.write_bytes(b"x" * 100)
    young = folder / "audio" / "being-uploaded.wav"
    young.write_bytes(b"y")
    hour_ago = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(orphan, (hour_ago, hour_ago))
    stranger = Path(settings.MEDIA_ROOT) / "users" / "no-such-user" / "audio" / "a.wav"
    stranger.parent.mkdir(parents=True)
    stranger.write_bytes(b"z")
    os.utime(stranger, (hour_ago, hour_ago))
    kept_before = [p for p in user_files(owner) if p not in (orphan, young)]

    result = sweep()  # the real clock: only files older than the grace period go
    assert (result.orphan_files, result.orphan_bytes) == (2, 101)
    assert not orphan.exists() and not stranger.exists() and young.exists()
    assert not stranger.parent.parent.exists()  # empty folders go too
    assert [p for p in user_files(owner) if p != young] == kept_before


def test_the_sweeper_fixes_rows_whose_files_are_gone(owner: User, done_batch: Batch) -> None:
    job = done_batch.jobs.get()
    (Path(settings.MEDIA_ROOT) / job.output.name).unlink()
    owner.refresh_from_db()
    before = owner.storage_used_bytes
    assert sweep(now=_later()).lost_results == 1
    job.refresh_from_db()
    assert (job.status, job.error_code, job.output.name) == (JobStatus.FAILED, "output_missing", "")
    assert job.error_message == "The video file is missing; render it again with Retry."
    owner.refresh_from_db()
    assert owner.storage_used_bytes == before - len(b"result bytes")


def test_deleting_an_account_leaves_no_file_of_that_user(
    owner: User,
    other: User,
    done_batch: Batch,
    make_template: Callable[..., Template],
    django_capture_on_commit_callbacks,
) -> None:
    others = make_template(path=FACE_WITH_AUDIO, user=other)
    assert user_files(owner)
    with django_capture_on_commit_callbacks(execute=True):
        services.user_delete(user=owner)
    assert not (Path(settings.MEDIA_ROOT) / owner.storage_prefix).exists()
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not Batch.all_objects.exists() and not AudioClip.all_objects.exists()
    assert (Path(settings.MEDIA_ROOT) / others.file.name).exists()  # nobody else's


def test_an_account_deletion_interrupted_after_the_mark_is_finished_by_the_sweep(
    owner: User, done_batch: Batch, client: Client
) -> None:
    deletion.user_mark(user_id=owner.pk)  # no on-commit step: the process died here
    from tests.conftest import PASSWORD

    assert not client.login(email=owner.email, password=PASSWORD)
    assert sweep(now=_later()).purged.users == 1
    assert not (Path(settings.MEDIA_ROOT) / owner.storage_prefix).exists()
    assert not User.objects.filter(pk=owner.pk).exists()


def test_delete_all_my_data_from_the_account_page(
    owner: User,
    owner_client: Client,
    done_batch: Batch,
    django_capture_on_commit_callbacks,
) -> None:
    url = reverse("accounts:data_delete")
    refused = owner_client.post(url, {"confirm": "yes"}, follow=True)
    assert "Nothing was deleted" in refused.content.decode() and user_files(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"confirm": "delete"})
    assert response.status_code == 302
    assert user_files(owner) == []
    owner.refresh_from_db()
    assert owner.is_active and owner.storage_used_bytes == 0
    page = owner_client.get(reverse("accounts:account")).content.decode()
    assert "All your batches, videos, templates and audio files were deleted." in page


def test_a_chinese_page_asks_for_删除_and_accepts_it(
    owner: User,
    owner_client: Client,
    done_batch: Batch,
    django_capture_on_commit_callbacks,
) -> None:
    page = owner_client.get(reverse("accounts:account"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "输入“删除”以确认" in page.content.decode()
    url = reverse("accounts:data_delete")
    refused = owner_client.post(url, {"confirm": "删"}, HTTP_ACCEPT_LANGUAGE="zh-CN", follow=True)
    assert "请在框中输入“删除”确认" in refused.content.decode() and user_files(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"confirm": "删除"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 302 and user_files(owner) == []


def test_the_other_user_cannot_delete_anyone_elses_data(
    other_client: Client, owner: User, done_batch: Batch, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        other_client.post(reverse("accounts:data_delete"), {"confirm": "delete"})
    assert user_files(owner) and Batch.objects.filter(pk=done_batch.pk).exists()
