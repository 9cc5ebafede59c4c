"""A template's face check is never lost and never runs twice at once (jobs.library.face_checks):
a lost check is sent again once per JOB_STALE_AFTER, a finished one never, a live one is
vouched for by its heartbeat, and a check that keeps killing its worker gives up with a
sentence. The live version SIGKILLs a real cluster in the middle of a check."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone, translation

from accounts.models import User
from jobs import services, tasks
from jobs.library import face_checks
from jobs.models import AudioClip, FaceStatus, Template
from jobs.render.worker import preparation
from jobs.user_errors import retry_blocked_reason, template_face_error_text
from tests.support.processes import child_env, stop_process_group, wait_for, worker

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


def _worker_dies(template: Template, settings: Any) -> None:
    """What a SIGKILLed worker leaves once JOB_STALE_AFTER has passed: its heartbeat and
    the check's last request both silent for longer than that."""
    past = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 1)
    Template.objects.filter(pk=template.pk).update(face_queued_at=past, face_heartbeat_at=past)


def test_a_lost_check_is_sent_again_once_per_period_and_a_finished_one_never(
    sent: list[tuple[str, tuple[Any, ...]]],
    template: Template,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    # The upload sent the check's task, and the broker lost it (a dead cluster).
    assert sent == [("jobs.tasks.template_analyse", (str(template.pk),))]
    sent.clear()
    now = timezone.now()
    stale = timedelta(seconds=settings.JOB_STALE_AFTER + 1)

    assert face_checks.templates_resend_stranded(now=now) == (0, 0)  # asked for just now
    assert face_checks.templates_resend_stranded(now=now + stale) == (1, 0)
    assert sent == [("jobs.tasks.template_analyse", (str(template.pk),))]
    assert face_checks.templates_resend_stranded(now=now + stale) == (0, 0)  # once per period
    assert face_checks.templates_resend_stranded(now=now + 3 * stale) == (1, 0)
    assert len(sent) == 2

    # However many tasks it has, the check runs once; a finished check is never sent again.
    assert preparation.template_analyse(template_id=template.pk) == FaceStatus.READY
    assert preparation.template_analyse(template_id=template.pk) == "not claimed"
    template.refresh_from_db()
    assert (template.face_status, template.face_attempts) == (FaceStatus.READY, 1)
    assert (template.face_queued_at, template.face_heartbeat_at) == (None, None)
    assert face_checks.templates_resend_stranded(now=now + 10 * stale) == (0, 0)
    assert len(sent) == 2


def test_two_watchdogs_at_once_send_a_lost_check_once(
    sent: list[tuple[str, tuple[Any, ...]]],
    template: Template,
    settings,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Watchdog A has read the stranded check; watchdog B sends it before A writes: A's
    conditional update finds the row changed and sends nothing."""
    from django.db import transaction

    sent.clear()
    later = timezone.now() + timedelta(seconds=settings.JOB_STALE_AFTER + 1)
    results: list[tuple[int, int]] = []
    real_atomic = transaction.atomic

    def atomic_after_a_rival(*args: Any, **kwargs: Any) -> Any:
        if not results:
            results.append((-1, -1))  # B runs once, between A's read and A's write
            results.append(face_checks.templates_resend_stranded(now=later))
        return real_atomic(*args, **kwargs)

    monkeypatch.setattr(face_checks.transaction, "atomic", atomic_after_a_rival)
    results.append(face_checks.templates_resend_stranded(now=later))
    assert results[1:] == [(1, 0), (0, 0)]  # B sent it; A, a moment behind, did not
    assert sent == [("jobs.tasks.template_analyse", (str(template.pk),))]


def test_a_check_that_keeps_killing_its_worker_fails_with_a_sentence(
    sent: list[tuple[str, tuple[Any, ...]]],
    template: Template,
    owner: User,
    audio_clip: AudioClip,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.RENDER_MAX_ATTEMPTS = 3
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    sent.clear()
    for attempt in range(1, 4):
        assert face_checks.template_check_claim(template_id=template.pk) is not None
        _worker_dies(template, settings)  # out of memory, say
        expected = (1, 0) if attempt < 3 else (0, 1)
        assert face_checks.templates_resend_stranded() == expected, attempt
    assert len(sent) == 2  # two resends, then it gave up

    template.refresh_from_db()
    assert (template.face_status, template.face_error_code) == (
        FaceStatus.FAILED,
        "face_check_lost",
    )
    assert template.face_error_params == {"attempts": 3}
    assert template.face_queued_at is None  # nothing more is wanted: not sent again
    assert face_checks.templates_resend_stranded(now=timezone.now() + timedelta(days=1)) == (0, 0)
    assert face_checks.template_check_claim(template_id=template.pk) is None
    with translation.override("en"):
        english = template_face_error_text(template)
    with translation.override("zh-hans"):
        chinese = template_face_error_text(template)
    assert english.startswith("Checking this video for a face stopped the worker 3 times")
    assert "Upload a shorter clip" in english
    assert "处理程序已停止 3 次" in chinese and "请上传一段较短的视频" in chinese
    # A job of that template says why retrying it would not help, and what to do instead.
    job = batch.jobs.select_related("template").get()
    with translation.override("en"):
        assert "Start a new batch with a shorter or smaller video" in retry_blocked_reason(job)
    with translation.override("zh-hans"):
        assert "一再停止" in retry_blocked_reason(job)


def test_the_scheduled_watchdog_gives_up_on_a_pending_template_only(
    sent: list[tuple[str, tuple[Any, ...]]],
    make_template: Callable[..., Template],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """A ready template (a render tracked its face) whose re-check keeps dying stays usable."""
    settings.RENDER_MAX_ATTEMPTS = 1
    pending = make_template(name="pending.mp4")
    ready = make_template(FIXTURES / "face_with_audio.mp4", name="ready.mp4")
    Template.objects.filter(pk=ready.pk).update(face_status=FaceStatus.READY)
    for template in (pending, ready):
        assert face_checks.template_check_claim(template_id=template.pk) is not None
        _worker_dies(template, settings)
    assert tasks.requeue_stale_jobs() == (0, 1, 0)
    statuses = dict(Template.objects.values_list("original_name", "face_status"))
    assert statuses == {"pending.mp4": FaceStatus.FAILED, "ready.mp4": FaceStatus.READY}
    assert not Template.objects.filter(face_queued_at__isnull=False).exists()


def test_a_long_check_is_vouched_for_and_a_spare_task_does_nothing_meanwhile(
    sent: list[tuple[str, tuple[Any, ...]]],
    template: Template,
    settings,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.JOB_STALE_AFTER = 0.6
    settings.JOB_HEARTBEAT_INTERVAL = 0.1
    from rendering import faces

    list_faces = faces.list_faces
    meanwhile: list[Any] = []

    def slow_listing(*args: Any, **kwargs: Any) -> Any:
        if not meanwhile:  # the check's own listing (tracking may list faces again)
            time.sleep(1.5)  # longer than JOB_STALE_AFTER: a long, large video
            meanwhile.append(face_checks.templates_resend_stranded())
            meanwhile.append(preparation.template_analyse(template_id=template.pk))  # a spare
        return list_faces(*args, **kwargs)

    monkeypatch.setattr(faces, "list_faces", slow_listing)
    sent.clear()
    assert preparation.template_analyse(template_id=template.pk) == FaceStatus.READY
    assert meanwhile == [(0, 0), "not claimed"]
    assert sent == []
    template.refresh_from_db()
    assert (template.face_status, template.face_attempts) == (FaceStatus.READY, 1)


def _long_template(path: Path, repeats: int) -> Path:
    """The face fixture played forwards and backwards `repeats` times: a check that takes
    long enough to be killed in the middle."""
    from rendering.media import VideoWriter, iter_frames

    frames = list(iter_frames(FIXTURES / "face.mp4"))
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width=width, height=height, fps=25) as writer:
        for repeat in range(repeats):
            for frame in frames if repeat % 2 == 0 else frames[::-1]:
                writer.write(frame)
    return path


@pytest.mark.slow
def test_a_cluster_killed_mid_check_leaves_no_template_pending_and_the_check_runs_once(
    make_template: Callable[..., Template], tmp_path: Path, settings, queue_name: str
) -> None:
    """SIGKILL the whole cluster while it checks a template's face: after JOB_STALE_AFTER
    one watchdog run sends the check again (once), and a new cluster finishes it exactly
    once. Runs on the ORM broker (the dead cluster's task stays locked) and on Redis (gone)."""
    from django_q.brokers import get_broker

    settings.JOB_STALE_AFTER = 3.0
    env = child_env(
        Q_CLUSTER_NAME=queue_name,
        Q_WORKERS="1",
        JOB_HEARTBEAT_INTERVAL="0.5",
        JOB_STALE_AFTER="3",
    )
    video = _long_template(tmp_path / "long.mp4", 20)

    with worker(env, tmp_path / "worker1.log") as first:
        template = make_template(video, name="long take.mp4")
        claimed = Template.objects.filter(pk=template.pk, face_attempts=1)
        wait_for(
            lambda: claimed.filter(face_heartbeat_at__isnull=False).exists(),
            timeout=120,
            what="the cluster to start the face check",
            interval=0.05,
        )
        started = claimed.get().face_heartbeat_at
        # Its heartbeat beats (a long check is not a lost one): then the whole cluster dies.
        wait_for(
            lambda: claimed.filter(face_heartbeat_at__gt=started).exists(),
            timeout=30,
            what="the check's heartbeat",
            interval=0.05,
        )
        stop_process_group(first, hard=True)

    template.refresh_from_db()
    assert (template.face_status, template.face_attempts) == (FaceStatus.PENDING, 1), (
        tmp_path / "worker1.log"
    ).read_text()[-2000:]
    assert get_broker().queue_size() == 0  # no task left for a new cluster to find
    wait_for(
        lambda: (
            (
                timezone.now() - Template.objects.get(pk=template.pk).face_heartbeat_at
            ).total_seconds()
            > 3.2
        ),
        timeout=30,
        what="the check's heartbeat to go stale",
    )
    assert tasks.requeue_stale_jobs() == (0, 0, 1)  # one watchdog run sends it again
    assert tasks.requeue_stale_jobs() == (0, 0, 0)  # and only once per period

    with worker(env, tmp_path / "worker2.log"):
        wait_for(
            lambda: (
                Template.objects.filter(pk=template.pk)
                .exclude(face_status=FaceStatus.PENDING)
                .exists()
            ),
            timeout=300,
            what="the new cluster to finish the face check",
        )
        time.sleep(2)  # room for any spare task to (wrongly) run the check again
    template.refresh_from_db()
    assert template.face_status == FaceStatus.READY, (
        template.face_error,
        (tmp_path / "worker2.log").read_text()[-2000:],
    )
    assert template.face_attempts == 2  # the killed start and the one that finished
    assert (template.face_queued_at, template.face_heartbeat_at) == (None, None)
    assert len(template.face_list) == 1
    assert tasks.requeue_stale_jobs() == (0, 0, 0)
