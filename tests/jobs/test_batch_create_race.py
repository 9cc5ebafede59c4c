"""Parallel batch starts of one user queue behind the owner's row lock: together they can
never pass the concurrent-jobs limit (as parallel retries cannot: test_retry_race.py)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, RenderJob, Template

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_batch_starts_never_pass_the_concurrent_jobs_limit(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    """Six one-video batches started at once with a limit of three: three are created,
    three refused with the sentence, and nothing half-made is left."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises every writer, so threads cannot race there "
            "(CI's second leg runs it)"
        )
    User.objects.filter(pk=owner.pk).update(max_concurrent_jobs=3)
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def start_batch() -> None:
        try:
            start.wait()
            services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
            outcomes.append("created")
        except ValidationError as exc:
            assert "your limit is 3 at once" in exc.messages[0]
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start_batch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 3 + ["refused"] * 3
    assert Batch.objects.count() == 3 and RenderJob.objects.count() == 3
