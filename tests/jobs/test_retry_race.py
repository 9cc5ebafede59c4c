"""Parallel retries of one user queue behind the owner's row lock: they can never together
pass the concurrent-jobs limit."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_never_lets_parallel_retries_pass_the_concurrent_jobs_limit(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    """Six failed one-video batches retried at once with a limit of three: three go back
    in the queue, three are refused."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises every writer, so threads cannot race there"
        )
    batches = [
        services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
        for _ in range(6)
    ]
    RenderJob.objects.update(status=JobStatus.FAILED, finished_at=timezone.now())
    User.objects.filter(pk=owner.pk).update(max_concurrent_jobs=3)
    start = threading.Barrier(len(batches))
    outcomes: list[str] = []

    def retry(batch: Batch) -> None:
        try:
            start.wait()
            services.batch_retry_failed(batch=batch)
            outcomes.append("queued")
        except ValidationError as exc:
            assert "your limit is 3 at once" in exc.messages[0]
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retry, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["queued"] * 3 + ["refused"] * 3
    assert RenderJob.objects.filter(status=JobStatus.QUEUED).count() == 3
