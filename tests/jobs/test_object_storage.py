"""The product on S3-compatible object storage (a real server on 127.0.0.1, see
tests/support/object_store.py): uploads, renders, caches, downloads, export, deletion and the
sweeper work as on the local disk, and nothing is written under MEDIA_ROOT."""

from __future__ import annotations

import hashlib
import io
import subprocess
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.export import export_link_create
from jobs.models import AudioClip, Batch, JobStatus, Template
from jobs.render.worker import preparation, runner
from jobs.storage import cleanup, files
from jobs.storage.stores import s3
from jobs.storage.usage import usage_recompute
from rendering import audio as audio_analysis
from rendering.media import probe
from tests.support.media import FACE, files_under, uploaded
from tests.support.object_store import ObjectStore

pytestmark = pytest.mark.django_db(transaction=True)


def _render(batch: Batch) -> list[str]:
    preparation.batch_prepare(batch_id=batch.pk)
    return [runner.job_run(job_id=pk) for pk in batch.jobs.values_list("pk", flat=True)]


def _fetch(url: str) -> bytes:
    assert urlsplit(url).hostname == "127.0.0.1"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return bytes(answer.read())


def test_a_batch_renders_from_and_into_the_bucket_and_nothing_lands_on_local_disk(
    s3_bucket: str,
    object_store: ObjectStore,
    owner: User,
    audio_clip: AudioClip,
    template: Template,
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])

    assert _render(batch) == [JobStatus.SUCCEEDED]

    job = batch.jobs.get()
    keys = object_store.keys(s3_bucket)
    assert audio_clip.file.name in keys and template.file.name in keys
    assert str(template.thumbnail.name) in keys
    assert job.output.name in keys
    # The caches' shared tier: analysis, face track and mouth library, for any host.
    cached = {k.split("/")[1] for k in keys if k.startswith("cache/")}
    assert {"audio", "face-track", "mouth-library"} <= cached
    # Nothing under MEDIA_ROOT, and the working copies are gone from SCRATCH_DIR.
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    assert files_under(Path(settings.SCRATCH_DIR)) == []
    # The result is a real video, its recorded size and checksum are the object's.
    body = object_store.client().get_object(Bucket=s3_bucket, Key=job.output.name)["Body"].read()
    assert job.output_size == len(body)
    assert job.output_sha256 == hashlib.sha256(body).hexdigest()
    with files.local_copy(job.output.name) as copy:
        info = probe(copy)
        assert info.video is not None and info.audio is not None
    drift = usage_recompute(user_id=owner.pk, fix=False)
    assert drift.on_disk == drift.recorded > 0  # sizes read from the bucket agree


def test_another_host_reuses_the_analysis_from_the_bucket(
    s3_bucket: str, owner: User, audio_clip: AudioClip, template: Template, tmp_path: Path
) -> None:
    first = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    _render(first)
    # A second worker host: its own, empty cache folder and scratch folder.
    settings.RENDER_CACHE_DIR = tmp_path / "host-2-cache"
    settings.SCRATCH_DIR = tmp_path / "host-2-scratch"
    runs = audio_analysis.ANALYSIS_RUNS

    second = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    assert _render(second) == [JobStatus.SUCCEEDED]

    assert runs == audio_analysis.ANALYSIS_RUNS  # read from the bucket, not analysed again
    assert any((tmp_path / "host-2-cache" / "audio").rglob("*"))  # copied into this host's tier


def test_downloads_redirect_to_a_presigned_address_on_the_public_endpoint(
    s3_bucket: str,
    object_store: ObjectStore,
    make_batch: Callable[..., Batch],
    owner_client: Client,
    other_client: Client,
) -> None:
    batch = make_batch(statuses=(JobStatus.SUCCEEDED,))
    job = batch.jobs.get()
    url = reverse("job_download", args=[job.pk])

    answer = owner_client.get(url)

    assert answer.status_code == 302
    assert answer["Cache-Control"] == "private, no-store"
    location = answer["Location"]
    assert location.startswith(object_store.public_endpoint + "/")
    assert not location.startswith(object_store.endpoint + "/")
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    assert _fetch(location) == FACE.read_bytes()
    assert other_client.get(url).status_code == 404  # tenant check before any address


def test_the_zip_export_streams_members_from_the_bucket_with_an_exact_length(
    s3_bucket: str,
    make_batch: Callable[..., Batch],
    owner: User,
    owner_client: Client,
    tmp_path: Path,
) -> None:
    batch = make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED))
    link = export_link_create(user=owner, batch_ids=[batch.pk])

    answer = owner_client.get(link.url)

    body = b"".join(answer.streaming_content)  # type: ignore[attr-defined]
    assert int(answer["Content-Length"]) == len(body) == link.size
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    videos = [n for n in archive.namelist() if n.endswith(".mp4")]
    assert len(videos) == 2
    for job in batch.jobs.filter(status=JobStatus.SUCCEEDED):
        member = next(n for n in videos if n.startswith(f"output_{job.position:03d}_"))
        assert hashlib.sha256(archive.read(member)).hexdigest() == job.output_sha256
    saved = tmp_path / "batch.zip"
    saved.write_bytes(body)
    unzip = subprocess.run(["unzip", "-t", str(saved)], capture_output=True, text=True)
    assert "No errors detected" in unzip.stdout
    # A broken download resumes with a byte range.
    tail = owner_client.get(link.url, HTTP_RANGE=f"bytes={len(body) - 1000}-")
    assert tail.status_code == 206
    assert b"".join(tail.streaming_content) == body[-1000:]  # type: ignore[attr-defined]


def test_deleting_a_batch_removes_its_objects_and_the_sweeper_pages_through_orphans(
    s3_bucket: str,
    object_store: ObjectStore,
    make_batch: Callable[..., Batch],
    owner: User,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    keep = make_batch("Keep", statuses=(JobStatus.SUCCEEDED,))
    gone = make_batch("Gone", statuses=(JobStatus.SUCCEEDED, JobStatus.SUCCEEDED))
    gone_outputs = [j.output.name for j in gone.jobs.all()]
    orphan = f"{owner.storage_prefix}/batches/{'0' * 32}/stray.mp4"
    files.put_bytes(b"no row points here", orphan)
    young = f"{owner.storage_prefix}/batches/{'1' * 32}/just-written.mp4"

    services.batch_delete(batch=gone)

    keys = object_store.keys(s3_bucket, "users/")
    assert not set(gone_outputs) & set(keys)
    assert keep.jobs.get().output.name in keys
    # The sweep lists a page at a time; make the pages small so it takes several.
    settings.ORPHAN_FILE_GRACE = 2  # an object's time is the server's: let the orphan age
    time.sleep(2.5)
    files.put_bytes(b"written a moment ago", young)
    pages_before = s3.LIST_PAGE
    s3.LIST_PAGE = 2
    try:
        result = cleanup.sweep(now=timezone.now())
    finally:
        s3.LIST_PAGE = pages_before
    keys = object_store.keys(s3_bucket, "users/")
    assert orphan not in keys and young in keys  # the young one may be an upload in flight
    assert result.orphan_files == 1 and result.orphan_bytes == len(b"no row points here")
    assert keep.jobs.get().output.name in keys
    assert result.lost_results == 0


def test_a_rejected_upload_leaves_no_object_behind(
    s3_bucket: str, object_store: ObjectStore, owner: User, tmp_path: Path
) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_bytes(b"this is not a sound file" * 100)

    with pytest.raises(ValidationError, match="could not read this file"):
        services.audio_upload(owner=owner, uploaded=uploaded(not_audio))

    assert object_store.keys(s3_bucket) == []
    assert not AudioClip.objects.filter(owner=owner).exists()


def test_the_result_view_in_the_page_plays_from_the_bucket(
    s3_bucket: str,
    object_store: ObjectStore,
    make_batch: Callable[..., Batch],
    owner_client: Client,
    other_client: Client,
) -> None:
    job = make_batch(statuses=(JobStatus.SUCCEEDED,)).jobs.get()
    url = reverse("job_video", args=[job.pk])

    answer = owner_client.get(url)

    assert answer.status_code == 302
    head = urllib.request.Request(answer["Location"], headers={"Range": "bytes=0-99"})
    with urllib.request.urlopen(head, timeout=30) as part:
        assert part.status == 206 and part.read() == FACE.read_bytes()[:100]
        assert "inline" in part.headers["Content-Disposition"]
    assert other_client.get(url).status_code == 404
