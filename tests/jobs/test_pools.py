"""Several worker hosts: real qclusters of one site, each with its own scratch and cache
folders, sharing the database, the broker (ORM here, Redis on CI's second leg) and an
S3-compatible object store. Renders go to the pool their engine is routed to; a pool host
killed mid-batch costs its running jobs one attempt each, and every job ends exactly once."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from django_q.models import Task

from accounts.models import User
from jobs import services
from jobs.models import JobStatus, RenderJob, Template
from jobs.render import lifecycle
from jobs.render.worker import preparation
from jobs.storage import files
from rendering.media import probe
from tests.support.media import FACE, FACE_WITH_AUDIO
from tests.support.object_store import ObjectStore, s3_env
from tests.support.processes import child_env, stop_process_group, wait_for, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

POOL = "render"


def _host(
    tmp_path: Path, name: str, store: ObjectStore, bucket: str, **extra: str
) -> dict[str, str]:
    """One worker host: its own scratch and cache folders, the shared bucket."""
    (tmp_path / name).mkdir()
    return child_env(
        **s3_env(store, bucket),
        SCRATCH_DIR=str(tmp_path / name / "scratch"),
        RENDER_CACHE_DIR=str(tmp_path / name / "cache"),
        ENGINE_POOLS=f"classic={POOL}",
        Q_WORKERS="1",
        JOB_HEARTBEAT_INTERVAL="0.5",
        JOB_STALE_AFTER="3",
        JOB_PROGRESS_INTERVAL="0.2",
        **extra,
    )


def _templates(make_template: Callable[..., Template], tmp_path: Path, n: int) -> list[Template]:
    from rendering.media import VideoWriter, iter_frames

    made = []
    for i in range(n):
        source = [FACE, FACE_WITH_AUDIO][i % 2]
        if i >= 2:  # another file per template (uploads are stored once per content)
            target = tmp_path / f"shifted{i}.mp4"
            frames = list(iter_frames(source))
            with VideoWriter(
                target, width=frames[0].shape[1], height=frames[0].shape[0], fps=25
            ) as w:
                for frame in frames[i:] + frames[:i]:
                    w.write(frame)
            source = target
        made.append(make_template(source, name=f"host test {i + 1}.mp4"))
    return made


def test_renders_go_to_their_pool_and_a_killed_pool_host_loses_no_job(
    s3_bucket: str,
    object_store: ObjectStore,
    owner: User,
    audio_clip,  # type: ignore[no-untyped-def]
    make_template: Callable[..., Template],
    tmp_path: Path,
    settings,  # type: ignore[no-untyped-def]
    queue_name: str,
) -> None:
    settings.ENGINE_POOLS = {"classic": POOL}
    settings.JOB_STALE_AFTER = 3.0
    templates = _templates(make_template, tmp_path, 4)
    for t in templates:  # analysed here (cached in the bucket), so the hosts start rendering
        preparation.template_analyse(template_id=t.pk)
    main = _host(tmp_path, "main", object_store, s3_bucket, Q_CLUSTER_NAME=queue_name)
    pool_a = _host(
        tmp_path, "pool-a", object_store, s3_bucket, Q_CLUSTER_NAME=queue_name, Q_POOL=POOL
    )
    pool_b = _host(
        tmp_path, "pool-b", object_store, s3_bucket, Q_CLUSTER_NAME=queue_name, Q_POOL=POOL
    )
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[t.pk for t in templates], name="Hosts"
    )
    jobs = RenderJob.objects.filter(batch=batch)

    with ExitStack() as hosts:
        hosts.enter_context(worker(main, tmp_path / "main.log"))
        pool = {
            name: hosts.enter_context(worker(env, tmp_path / f"{name}.log"))
            for name, env in (("pool-a", pool_a), ("pool-b", pool_b))
        }
        # A pool host takes renders (a cluster takes tasks ahead of its free workers, so
        # either may hold all four) and is killed in the middle of one, as the OOM killer would.
        wait_for(
            lambda: jobs.filter(status=JobStatus.RUNNING, progress__gt=0.05).exists(),
            timeout=240,
            what="a pool host to be mid-render",
            interval=0.1,
        )
        doomed = next(n for n in pool if "job started" in (tmp_path / f"{n}.log").read_text())
        survivor = "pool-b" if doomed == "pool-a" else "pool-a"
        stop_process_group(pool[doomed], hard=True)

        # The watchdog (every minute on the main pool; run here so the test need not wait):
        # the dead host's running job goes back to the pool and the tasks it had taken ahead
        # are sent again; the surviving host renders them.
        def settled() -> bool:
            lifecycle.jobs_requeue_stale()
            lifecycle.jobs_resend_stranded()
            return not jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()

        wait_for(settled, timeout=400, what="every job to end", interval=1.0)

    logs = {h: (tmp_path / f"{h}.log").read_text() for h in ("main", "pool-a", "pool-b")}
    assert sorted(jobs.values_list("status", flat=True)) == [JobStatus.SUCCEEDED] * 4, logs
    # The killed host was rendering one job (Q_WORKERS=1): it alone took a second attempt.
    assert sorted(jobs.values_list("attempts", flat=True)) == [1, 1, 1, 2]
    # Exactly one result per job, in the bucket; nothing left in any host's scratch folder
    # but what the killed host was writing.
    outputs = [k for k in object_store.keys(s3_bucket, f"{owner.storage_prefix}/batches/")]
    assert sorted(outputs) == sorted(j.output.name for j in jobs)
    for job in jobs:
        with files.local_copy(job.output.name) as copy:
            assert abs(probe(copy).duration - audio_clip.duration) < 0.2
    assert not any((tmp_path / survivor / "scratch").iterdir())
    # The routing: renders ran only in the pool's queue, the batch's preparation in the main one.
    clusters = dict(
        Task.objects.filter(func="jobs.tasks.batch_prepare").values_list("func", "cluster")
    )
    assert clusters == {"jobs.tasks.batch_prepare": queue_name}
    assert set(
        Task.objects.filter(func="jobs.tasks.job_render").values_list("cluster", flat=True)
    ) == {f"{queue_name}-{POOL}"}
    assert "job started" not in logs["main"]
    assert "job started" in logs[survivor]


def test_a_long_videos_segments_are_spread_over_the_pool_hosts(
    s3_bucket: str,
    object_store: ObjectStore,
    owner: User,
    audio_clip,  # type: ignore[no-untyped-def]
    template: Template,
    tmp_path: Path,
    settings,  # type: ignore[no-untyped-def]
    queue_name: str,
) -> None:
    """About five seconds of video cut into one-second parts: both pool hosts render parts
    (each takes at most one task ahead of its one worker), one joins, and the result has
    every frame once."""
    settings.ENGINE_POOLS = {"classic": POOL}
    preparation.template_analyse(template_id=template.pk)
    extra = {"Q_CLUSTER_NAME": queue_name, "RENDER_SEGMENT_SECONDS": "1"}
    main = _host(tmp_path, "main", object_store, s3_bucket, **extra)
    pool_a = _host(tmp_path, "pool-a", object_store, s3_bucket, Q_POOL=POOL, **extra)
    pool_b = _host(tmp_path, "pool-b", object_store, s3_bucket, Q_POOL=POOL, **extra)
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name="Long"
    )
    job = batch.jobs.get()

    with (
        worker(main, tmp_path / "main.log"),
        worker(pool_a, tmp_path / "pool-a.log"),
        worker(pool_b, tmp_path / "pool-b.log"),
    ):
        wait_for(
            lambda: (
                RenderJob.objects.filter(pk=job.pk)
                .exclude(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
                .exists()
            ),
            timeout=400,
            what="the long job to end",
            interval=0.5,
        )

    job.refresh_from_db()
    logs = {h: (tmp_path / f"{h}.log").read_text() for h in ("main", "pool-a", "pool-b")}
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, logs)
    parts = job.segments.count()
    assert parts >= 4
    started = {h: logs[h].count("segment started") for h in ("pool-a", "pool-b")}
    assert sum(started.values()) == parts and min(started.values()) >= 1, started
    assert "segment started" not in logs["main"]
    with files.local_copy(job.output.name) as copy:
        info = probe(copy)
    assert info.video is not None and abs(info.duration - audio_clip.duration) < 0.2
    # The parts' files are gone from the bucket; only the result stays.
    assert object_store.keys(s3_bucket, f"{owner.storage_prefix}/batches/") == [job.output.name]
