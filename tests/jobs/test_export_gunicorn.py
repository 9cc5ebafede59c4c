"""The export link through the production server: gunicorn's access log never shows the token,
and the bytes a real client reads equal the Content-Length."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.export import export_link_create
from jobs.models import AudioClip, JobStatus, Template
from tests.support.processes import gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_keeps_the_token_out_of_gunicorns_logs(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template], tmp_path: Path
) -> None:
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[make_template().pk], name="Served"
    )
    job = batch.jobs.get()
    job.output.name = f"{owner.storage_prefix}/batches/{batch.pk.hex}/output_001.mp4"
    path = Path(settings.MEDIA_ROOT) / job.output.name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"video" * 10000)
    job.status, job.finished_at = JobStatus.SUCCEEDED, timezone.now()
    job.save()
    link = export_link_create(user=owner, batch_ids=[batch.pk])
    token = link.url.split("token=", 1)[1]

    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    with gunicorn(
        tmp_path,
        "--logger-class",
        "heygem_site.log_redaction.GunicornLogger",
        "--access-logfile",
        str(access),
        "--error-logfile",
        str(errors),
    ) as base:
        response = requests.get(base + link.url, timeout=60)
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(response.content) == link.size
        assert zipfile.ZipFile(io.BytesIO(response.content)).testzip() is None
        head = requests.head(base + link.url, timeout=60)
        assert head.headers["Content-Length"] == response.headers["Content-Length"]
        assert requests.get(base + link.url + "x", timeout=60).status_code == 404
    logged = access.read_text() + errors.read_text()
    logged += "".join(p.read_text() for p in (tmp_path / "log").glob("*"))
    assert logged.count("/exports/download/?token=[redacted]") == 3, logged
    assert token[:20] not in logged
