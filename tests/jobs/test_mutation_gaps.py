"""Tests for the deliberate breaks a mutation run let through (issue #24 item 8); each fails
without the condition it guards. (The watchdog's read-then-update race for render jobs is
in test_leases.py; uploads of different files of one size in test_upload_dedup.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from jobs.export import export_link_create, export_links_valid
from jobs.models import Batch, JobStatus, RenderSegment, SegmentStatus
from jobs.render import lifecycle
from jobs.render import segment_plan as segments
from jobs.render.worker import segment_render as segment_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def running_segment(make_batch: Any) -> RenderSegment:
    batch: Batch = make_batch(statuses=(JobStatus.QUEUED,))
    job = batch.jobs.get()
    assert lifecycle.job_claim(job_id=job.pk)
    return RenderSegment.objects.create(
        job=job, index=0, start_frame=0, stop_frame=25, queued_at=timezone.now()
    )


def test_a_second_task_for_a_running_or_rendered_segment_does_nothing(
    running_segment: RenderSegment,
) -> None:
    segment = running_segment
    assert segments.segment_claim(segment_id=segment.pk)
    # A spare task while the first one renders it: not claimed, attempts not counted.
    assert not segments.segment_claim(segment_id=segment.pk)
    assert segment_worker.segment_run(segment_id=segment.pk) == "not claimed"
    segment.refresh_from_db()
    assert (segment.status, segment.attempts) == (SegmentStatus.RUNNING, 1)
    assert segments.segment_rendered(segment=segment, coverage=1.0)
    # And once it is rendered.
    assert not segments.segment_claim(segment_id=segment.pk)
    assert segment_worker.segment_run(segment_id=segment.pk) == "not claimed"
    segment.refresh_from_db()
    assert (segment.status, segment.attempts, segment.progress) == (
        SegmentStatus.RENDERED,
        1,
        1.0,
    )


def test_a_segment_of_a_job_that_stopped_running_is_never_claimed(
    running_segment: RenderSegment,
) -> None:
    lifecycle.jobs_cancel(running_segment.job.batch.jobs.all())
    RenderSegment.objects.filter(pk=running_segment.pk).update(status=SegmentStatus.QUEUED)
    assert not segments.segment_claim(segment_id=running_segment.pk)


def test_the_account_page_lists_only_the_users_own_download_links(
    owner: User,
    other: User,
    owner_client: Client,
    other_client: Client,
    make_batch: Any,
) -> None:
    batch: Batch = make_batch(statuses=(JobStatus.SUCCEEDED,))
    link = export_link_create(user=owner, batch_ids=[batch.pk])
    assert list(export_links_valid(other)) == []
    mine = owner_client.get("/accounts/")
    theirs = other_client.get("/accounts/")
    assert mine.status_code == theirs.status_code == 200
    assert link.filename in mine.content.decode()
    assert mine.content.decode().count('data-testid="export-link"') == 1
    assert link.filename not in theirs.content.decode()
    assert 'data-testid="export-link"' not in theirs.content.decode()
