"""Several worker hosts: real qclusters of one site, each with its own scratch and cache
folders, sharing the database, the broker (ORM here, Redis on CI's second leg) and an
S3-compatible object store. Renders go to the pool their engine is routed to; a pool host
killed mid-batch costs its running jobs one attempt each, and every job ends exactly once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django_q.models import Task

from accounts.models import User
from jobs import lifecycle, services
from jobs.models import JobStatus, RenderJob, Template
from jobs.storage import files
from jobs.worker import preparation
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

    with worker(main, tmp_path / "main.log"), worker(pool_b, tmp_path / "pool-b.log"):
        with worker(pool_a, tmp_path / "pool-a.log") as doomed:
            # Host A takes a render and is killed in the middle of it (as the OOM killer would).
            wait_for(
                lambda: (
                    "job started" in (tmp_path / "pool-a.log").read_text()
                    and jobs.filter(status=JobStatus.RUNNING, progress__gt=0.05).exists()
                ),
                timeout=240,
                what="pool host A to be mid-render",
                interval=0.1,
            )
            stop_process_group(doomed, hard=True)

        # The watchdog (every minute on the main pool; run here so the test need not wait):
        # host A's job goes back to the pool, and host B renders it.
        def settled() -> bool:
            lifecycle.jobs_requeue_stale()
            lifecycle.jobs_resend_stranded()
            return not jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()

        wait_for(settled, timeout=400, what="every job to end", interval=1.0)

    logs = {h: (tmp_path / f"{h}.log").read_text() for h in ("main", "pool-a", "pool-b")}
    assert sorted(jobs.values_list("status", flat=True)) == [JobStatus.SUCCEEDED] * 4, logs
    assert sum(jobs.values_list("attempts", flat=True)) in (5, 6)  # A's one or two jobs again
    # Exactly one result per job, in the bucket; nothing left in any host's scratch folder
    # but what the killed host was writing.
    outputs = [k for k in object_store.keys(s3_bucket, f"{owner.storage_prefix}/batches/")]
    assert sorted(outputs) == sorted(j.output.name for j in jobs)
    for job in jobs:
        with files.local_copy(job.output.name) as copy:
            assert abs(probe(copy).duration - audio_clip.duration) < 0.2
    assert not any((tmp_path / "pool-b" / "scratch").iterdir())
    # The routing: renders ran only in the pool's queue, the batch's preparation in the main one.
    clusters = dict(
        Task.objects.filter(func="jobs.tasks.batch_prepare").values_list("func", "cluster")
    )
    assert clusters == {"jobs.tasks.batch_prepare": queue_name}
    assert set(
        Task.objects.filter(func="jobs.tasks.job_render").values_list("cluster", flat=True)
    ) == {f"{queue_name}-{POOL}"}
    assert "job started" not in logs["main"]
    assert "job started" in logs["pool-b"]
