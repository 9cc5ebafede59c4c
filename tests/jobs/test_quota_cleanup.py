from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, JobStatus, Notice, RenderJob, Template
from jobs.render import lifecycle
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


def _after_notice() -> datetime:
    return timezone.now() + timedelta(hours=settings.QUOTA_NOTICE_HOURS, minutes=1)


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
    assert quota_cleanup_all() == 0  # the hourly run warns first
    page = owner_client.get(reverse("history")).content.decode()
    assert "Unless you delete older batches or templates before" in page
    assert "we will remove oldest: a.mp4 (10.2\xa0KB)." in page
    assert quota_cleanup_all(now=_after_notice()) == 1
    page = owner_client.get(reverse("history")).content.decode()
    # Sizes in decimal units (heygem_site.formats): 10 KiB reads 10.2 KB.
    assert "so we removed 1 older result (10.2\xa0KB): oldest: a.mp4." in page
    assert "so we removed" not in owner_client.get(reverse("history")).content.decode()
    assert "so we removed" not in other_client.get(reverse("history")).content.decode()
    assert not Notice.objects.filter(shown_at__isnull=True).exists()


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
    assert quota_cleanup_all() == 0
    assert quota_cleanup_all(now=_after_notice()) == 1
    page = owner_client.get(reverse("history")).content.decode()
    assert "你的存储超出了" in page and "1 个较早的成片" in page


def test_the_hourly_run_removes_only_what_it_named_and_only_once_the_notice_is_due(
    owner: User, results: dict[str, Path], django_capture_on_commit_callbacks
) -> None:
    _lower_quota_by(owner, 5 * KB)
    assert quota_cleanup_all() == 0
    warning = Notice.objects.get()
    assert warning.planned == [["result", str(RenderJob.objects.get(batch__name="oldest").pk)]]
    assert quota_cleanup_all(now=timezone.now() + timedelta(hours=1)) == 0  # not due yet
    assert Notice.objects.count() == 1  # and not warned twice
    # The user deletes the named result themselves and goes over again with a new upload:
    # the due warning removes nothing it did not name.
    RenderJob.objects.filter(batch__name="oldest").update(output="")
    assert quota_cleanup_all(now=_after_notice()) == 0
    assert results["middle"].exists() and results["newest"].exists()
    assert Notice.objects.get(pk=warning.pk).planned is None
    # The next run warns afresh, naming what is there now.
    assert quota_cleanup_all(now=_after_notice()) == 0
    fresh = Notice.objects.get(planned__isnull=False)
    assert fresh.planned == [["result", str(RenderJob.objects.get(batch__name="middle").pk)]]


def test_a_user_who_makes_room_in_time_loses_nothing(owner: User, results: dict[str, Path]) -> None:
    _lower_quota_by(owner, 5 * KB)
    assert quota_cleanup_all() == 0
    User.objects.filter(pk=owner.pk).update(storage_quota_bytes=10**12)
    assert quota_cleanup_all(now=_after_notice()) == 0
    assert all(path.exists() for path in results.values())
    assert Notice.objects.get().planned is None


def test_a_result_younger_than_the_notice_period_is_never_removed(
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    django_capture_on_commit_callbacks,
) -> None:
    """The adversarial run: new results that took the user over quota (the estimate was
    wrong) stay, whoever runs the cleanup."""
    template = make_template(name="a.mp4")
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    path = finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=bytes(10 * KB))
    assert path is not None
    _lower_quota_by(owner, 10**9)
    assert quota_cleanup(user_id=owner.pk).removed == []  # the admin's immediate run too
    assert quota_cleanup_all() == 0
    assert quota_cleanup_all(now=_after_notice()) == 0  # named nothing: the result was new
    assert path.exists()
    # Once older than the notice period it may be named, and then removed.
    assert quota_cleanup_all(now=_after_notice() + timedelta(hours=1)) == 0
    later = _after_notice() + 2 * timedelta(hours=settings.QUOTA_NOTICE_HOURS, minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert quota_cleanup_all(now=later) >= 1
    assert not path.exists()
