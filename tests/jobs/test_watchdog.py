"""The watchdog's second half: queued jobs whose task was lost with a dead worker are sent
again, once per JOB_STALE_AFTER, and the claim keeps every spare task from running them twice.
(The live version, a whole cluster killed, is in test_worker_crash.py.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from jobs import services, tasks
from jobs.models import AudioClip, JobStatus, RenderJob, Template
from jobs.render import lifecycle
from jobs.render.worker import preparation, runner

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Every task handed to the broker (whichever broker the settings name)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        "jobs.render.queue.async_task", lambda func, *args, **kwargs: calls.append((func, args))
    )
    return calls


def test_a_queued_job_whose_task_was_lost_is_sent_again_and_runs_once(
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    sent: list[tuple[str, tuple[Any, ...]]],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    a = make_template(name="a.mp4")
    b = make_template(FIXTURES / "face_with_audio.mp4", name="b.mp4")
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk])
    assert preparation.batch_prepare(batch_id=batch.pk) == 2
    first, second = batch.jobs.order_by("position")
    sent.clear()
    # The cluster that took both tasks dies: the first was running, the second waited in
    # its memory. Only the running one has a heartbeat to go stale.
    assert lifecycle.job_claim(job_id=first.pk)
    now = timezone.now()
    stale = timedelta(seconds=settings.JOB_STALE_AFTER + 1)

    assert lifecycle.jobs_resend_stranded(now=now) == 0  # vouched for just now
    assert lifecycle.jobs_resend_stranded(now=now + stale) == 1
    assert sent == [("jobs.tasks.job_render", (str(second.pk),))]
    assert lifecycle.jobs_resend_stranded(now=now + stale) == 0  # once per period
    assert lifecycle.jobs_resend_stranded(now=now + 2 * stale + stale) == 1
    assert len(sent) == 2

    # However many tasks it has, the job is rendered once.
    assert runner.job_run(job_id=second.pk) == JobStatus.SUCCEEDED
    assert runner.job_run(job_id=second.pk) == "not claimed"
    second.refresh_from_db()
    assert (second.status, second.attempts) == (JobStatus.SUCCEEDED, 1)
    assert lifecycle.jobs_resend_stranded(now=now + 10 * stale) == 0  # not queued any more


def test_the_scheduled_watchdog_covers_running_and_queued_jobs_and_face_checks(
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    sent: list[tuple[str, tuple[Any, ...]]],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.JOB_STALE_AFTER = 0.5
    a = make_template(name="a.mp4")
    b = make_template(FIXTURES / "face_with_audio.mp4", name="b.mp4")
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[a.pk, b.pk])
    first, _second = batch.jobs.order_by("position")
    assert lifecycle.job_claim(job_id=first.pk)
    sent.clear()
    time.sleep(0.6)
    # The templates' face checks were lost too (`sent` swallowed their tasks): sent again.
    # So was the batch's preparation: it is sent again, not the queued job's render (which
    # would go out without the batch's words); the preparation sends that render.
    assert tasks.requeue_stale_jobs() == (1, 0, 1 + 2)
    assert sorted(sent) == sorted(
        [("jobs.tasks.job_render", (str(first.pk),))]
        + [("jobs.tasks.batch_prepare", (str(batch.pk),))]
        + [("jobs.tasks.template_analyse", (str(t.pk),)) for t in (a, b)]
    )
    assert set(RenderJob.objects.values_list("status", flat=True)) == {JobStatus.QUEUED}


def test_a_long_preparation_is_not_mistaken_for_a_lost_task(
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    sent: list[tuple[str, tuple[Any, ...]]],
    settings,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.JOB_STALE_AFTER = 0.6
    settings.JOB_HEARTBEAT_INTERVAL = 0.1
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    from rendering import audio as audio_analysis

    analyse = audio_analysis.analyse
    resent_meanwhile: list[int] = []

    def slow_analysis(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)  # longer than JOB_STALE_AFTER: a Whisper pass over a long recording
        resent_meanwhile.append(lifecycle.jobs_resend_stranded())
        return analyse(*args, **kwargs)

    monkeypatch.setattr(audio_analysis, "analyse", slow_analysis)
    sent.clear()
    assert preparation.batch_prepare(batch_id=batch.pk) == 1
    assert resent_meanwhile == [0]
    assert [func for func, _ in sent] == ["jobs.tasks.job_render"]
