"""A whole batch through the real product path: services -> django-q2 worker -> engine.

Sets up a throwaway instance (SQLite + ORM broker in a temp folder), uploads one audio and
N templates of SECONDS each (the fixture face looped forward and backward, scaled to SIZE),
starts a real `manage.py qcluster` with WORKERS processes, and times the batch from "Start
batch" until every job has finished.

    .venv/bin/python bench/worker_batch.py [N=10] [--seconds 5] [--size 512] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import FACE, ROOT, SPEECH, table


def _make_template(dst: Path, *, seconds: float, size: int, shade: int) -> Path:
    import cv2
    import numpy as np

    from rendering import media

    frames, fps = media.read_frames(FACE)
    loop = frames + frames[-2:0:-1]  # forward then backward: no jump cut
    wanted = round(seconds * fps)
    with media.VideoWriter(dst, width=size, height=size, fps=fps, crf=18) as writer:
        for i in range(wanted):
            frame = cv2.resize(loop[i % len(loop)], (size, size), interpolation=cv2.INTER_CUBIC)
            frame = np.clip(frame.astype(np.int16) + shade, 0, 255).astype(np.uint8)
            writer.write(frame)
    return dst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="heygem-bench-"))
    env = dict(
        os.environ,
        HEYGEM_VAR_DIR=str(var),
        Q_CLUSTER_NAME=f"bench-{os.getpid()}",
        Q_WORKERS=str(args.workers),
        DJANGO_SETTINGS_MODULE="heygem_site.settings",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    os.environ.update(
        {
            k: env[k]
            for k in ("HEYGEM_VAR_DIR", "Q_CLUSTER_NAME", "Q_WORKERS", "DJANGO_SETTINGS_MODULE")
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )

    import django

    django.setup()
    from accounts.models import User
    from jobs import services
    from jobs.models import ACTIVE_STATUSES, JobStatus, RenderJob
    from tests.support.media import uploaded as upload
    from tests.support.processes import stop_process_group

    user = User.objects.create_user(
        email="bench@example.com", password="x", max_concurrent_jobs=1000
    )
    made = Path(tempfile.mkdtemp(prefix="heygem-templates-"))
    print(
        f"making {args.n} templates of {args.seconds:.0f} s at {args.size}x{args.size}...",
        file=sys.stderr,
    )
    templates = [
        services.template_upload(
            owner=user,
            uploaded=upload(
                _make_template(
                    made / f"t{i:02d}.mp4", seconds=args.seconds, size=args.size, shade=i * 2
                )
            ),
        )
        for i in range(args.n)
    ]
    audio = services.audio_upload(owner=user, uploaded=upload(SPEECH))

    log = (var / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # Face analysis of the uploads is queued too; let the worker finish it first so the
        # timing below is the batch alone (what a user sees after pressing Start).
        from jobs.models import FaceStatus, Template

        while Template.objects.filter(face_status=FaceStatus.PENDING).exists():
            time.sleep(0.2)
        start = time.perf_counter()
        batch = services.batch_create(
            owner=user, audio_id=audio.pk, template_ids=[t.pk for t in templates]
        )
        first_claim = None
        while RenderJob.objects.filter(batch=batch, status__in=ACTIVE_STATUSES).exists():
            if (
                first_claim is None
                and RenderJob.objects.filter(batch=batch).exclude(started_at=None).exists()
            ):
                first_claim = time.perf_counter() - start
            time.sleep(0.1)
        total = time.perf_counter() - start
    finally:
        stop_process_group(worker)
        log.close()

    jobs = list(RenderJob.objects.filter(batch=batch))
    ok = sum(j.status == JobStatus.SUCCEEDED for j in jobs)
    video_seconds = sum(j.output_duration or 0 for j in jobs)
    per_job = [
        (j.finished_at - j.started_at).total_seconds()
        for j in jobs
        if j.started_at and j.finished_at
    ]
    print(
        table(
            [
                "templates",
                "size",
                "workers",
                "succeeded",
                "batch wall s",
                "first claim s",
                "mean job s",
                "video s",
                "video s / wall s",
            ],
            [
                [
                    args.n,
                    f"{args.size}x{args.size}",
                    args.workers,
                    ok,
                    total,
                    first_claim or 0.0,
                    sum(per_job) / max(1, len(per_job)),
                    video_seconds,
                    video_seconds / total,
                ]
            ],
        )
    )
    shutil.rmtree(var, ignore_errors=True)
    shutil.rmtree(made, ignore_errors=True)
    return 0 if ok == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
