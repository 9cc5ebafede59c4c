from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import lifecycle, services
from jobs.models import AudioClip, JobStatus, Notice, RenderJob, Template
from jobs.storage.cleanup import quota_cleanup, quota_cleanup_all
from tests.support.jobs import finish_job
from tests.support.media import FACE_WITH_AUDIO

pytestmark = pytest.mark.django_db

KB = 1024


@pytest.fixture
def results(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> dict[str, Path]:
    """Three finished 10 KB results of different ages, one running and one queued job."""
    a, b = make_template(name="a.mp4"), make_template(path=FACE_WITH_AUDIO, name="b.mp4")
    User.objects.filter(pk=owner.pk).update(max_concurrent_jobs=100)
    owner.refresh_from_db()
    now = timezone.now()
    paths: dict[str, Path] = {}
    for name, age in (("middle", 2), ("oldest", 3), ("newest", 1)):
        batch = services.batch_create(
            owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk], name=name
        )
        path = finish_job(
            batch.jobs.get(),
            status=JobStatus.SUCCEEDED,
            content=bytes(10 * KB),
            finished_at=now - timedelta(days=age),
        )
        assert path is not None
        paths[name] = path
    busy = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk], name="busy"
    )
    running = busy.jobs.get(position=1)
    assert lifecycle.job_claim(job_id=running.pk)
    # A running job's partial output, as the worker writes it.
    partial = paths["oldest"].parents[1] / busy.pk.hex / ".output_001.1.partial.mp4"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"partial")
    paths["partial"] = partial
    return paths


def _lower_quota_by(owner: User, excess: int) -> None:
    owner.refresh_from_db()
    User.objects.filter(pk=owner.pk).update(storage_quota_bytes=owner.storage_used_bytes - excess)


def test_it_removes_the_oldest_results_first_until_the_user_fits(
    owner: User, results: dict[str, Path], django_capture_on_commit_callbacks
) -> None:
    _lower_quota_by(owner, 15 * KB)  # two 10 KB results must go
    with django_capture_on_commit_callbacks(execute=True):
        outcome = quota_cleanup(user_id=owner.pk)
    assert outcome.removed == ["oldest: a.mp4", "middle: a.mp4"]
    assert not outcome.still_over
    assert not results["oldest"].exists() and not results["middle"].exists()
    assert results["newest"].exists() and results["partial"].exists()
    owner.refresh_from_db()
    assert owner.storage_used_bytes <= owner.storage_quota_bytes
    assert RenderJob.objects.filter(status=JobStatus.SUCCEEDED).count() == 1
    assert set(RenderJob.objects.active().values_list("status", flat=True)) == {
        JobStatus.RUNNING,
        JobStatus.QUEUED,
    }


def test_it_never_removes_uploads_a_queued_or_running_video_needs(
    owner: User,
    results: dict[str, Path],
    audio_clip: AudioClip,
    django_capture_on_commit_callbacks,
) -> None:
    _lower_quota_by(owner, 10**9)  # far over: everything removable goes
    with django_capture_on_commit_callbacks(execute=True):
        outcome = quota_cleanup(user_id=owner.pk)
    assert outcome.still_over
    assert len(outcome.removed) == 3  # the three results; both templates and the audio are in use
    assert Template.objects.count() == 2 and AudioClip.objects.get() == audio_clip
    assert results["partial"].exists()


def test_the_user_is_told_once_what_was_removed(
    owner: User, owner_client: Client, results: dict[str, Path], other_client: Client
) -> None:
    _lower_quota_by(owner, 5 * KB)
    assert quota_cleanup_all() == 1
    page = owner_client.get(reverse("history")).content.decode()
    # Sizes in decimal units (heygem_site.formats): 10 KiB reads 10.2 KB.
    assert "so we removed 1 older result (10.2\xa0KB): oldest: a.mp4." in page
    assert "so we removed" not in owner_client.get(reverse("history")).content.decode()
    assert "so we removed" not in other_client.get(reverse("history")).content.decode()
    assert Notice.objects.get().shown_at is not None


def test_a_user_within_quota_loses_nothing(owner: User, results: dict[str, Path]) -> None:
    assert quota_cleanup(user_id=owner.pk).removed == []
    assert all(path.exists() for path in results.values())


def test_lowering_the_quota_in_the_admin_cleans_up_at_once(
    owner: User, admin_client: Client, results: dict[str, Path]
) -> None:
    owner.refresh_from_db()
    url = reverse("admin:accounts_user_change", args=[owner.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "groups"}
    data.update(
        storage_quota_bytes=owner.storage_used_bytes - 15 * KB,
        date_joined_0=owner.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=owner.date_joined.strftime("%H:%M:%S"),
        user_permissions=[],
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    owner.refresh_from_db()
    assert owner.storage_used_bytes <= owner.storage_quota_bytes
    assert Notice.objects.filter(owner=owner).exists()


def test_the_notice_is_written_in_the_users_language(
    owner: User, owner_client: Client, results: dict[str, Path]
) -> None:
    User.objects.filter(pk=owner.pk).update(language="zh-hans")
    _lower_quota_by(owner, 5 * KB)
    assert quota_cleanup_all() == 1
    page = owner_client.get(reverse("history")).content.decode()
    assert "你的存储超出了" in page and "1 个较早的成片" in page
