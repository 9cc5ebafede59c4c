"""The one way tests finish a render job: through the lifecycle services, as the worker does."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from jobs.models import JobStatus, RenderJob, output_upload_to
from jobs.render import lifecycle
from jobs.storage import files


def finish_job(
    job: RenderJob,
    *,
    status: str,
    content: bytes = b"",
    source: Path | None = None,
    error: str = "",
    code: str = "",
    params: dict[str, object] | None = None,
    duration: float = 2.0,
    finished_at: datetime | None = None,
) -> Path | None:
    """Move a queued job to `status` the way the worker and the services do.

    1. Claim it (queued -> running), as the worker does before rendering.
    2. succeeded: write the result where the worker writes it (`content`, or a copy of
       `source`) and record it with lifecycle.job_succeed (size, checksum, usage);
       failed: lifecycle.job_fail with `error` (and its `code` and `params`); canceled: lifecycle.jobs_cancel;
       running: nothing more.
    3. `finished_at`, when given, backdates the finish (for retention and cleanup order).

    Returns the result's path for a success. `job` is refreshed from the database.
    """
    row = RenderJob.objects.select_related("batch__owner").get(pk=job.pk)
    path: Path | None = None
    if status == JobStatus.CANCELED:
        lifecycle.jobs_cancel(RenderJob.objects.filter(pk=row.pk))
        lifecycle.batch_finish_if_done(row.batch_id)
    else:
        assert lifecycle.job_claim(job_id=row.pk), "finish_job needs a queued job"
        if status == JobStatus.SUCCEEDED:
            name = output_upload_to(row, "")
            with files.scratch_file(suffix=".mp4") as scratch:
                if source is not None:
                    shutil.copyfile(source, scratch)
                else:
                    scratch.write_bytes(content)
                size = files.put(scratch, name, content_type="video/mp4")
            path = files.local_path(name)
            assert lifecycle.job_succeed(
                job=row,
                output_name=name,
                size=size,
                duration=duration,
                log_text="",
            )
        elif status == JobStatus.FAILED:
            assert lifecycle.job_fail(job=row, message=error, code=code, params=params)
        else:
            assert status == JobStatus.RUNNING, f"finish_job cannot make a job {status!r}"
    if finished_at is not None:
        RenderJob.objects.filter(pk=row.pk).update(finished_at=finished_at)
    job.refresh_from_db()
    return path
