"""The pages-only process (heygem_site.settings_pages): the site without the REST API and
the admin, for lean download-serving workers. Real gunicorn; the same database and files."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from django.test import Client

from accounts.models import User
from jobs.export import export_link_create
from jobs.models import Batch, JobStatus
from tests.support.processes import ROOT, child_env, gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAGES = "heygem_site.settings_pages"


def test_it_serves_pages_results_and_exports_but_no_api_or_admin(
    make_batch: Callable[..., Batch], owner: User, owner_client: Client, tmp_path: Path
) -> None:
    batch = make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.SUCCEEDED))
    link = export_link_create(user=owner, batch_ids=[batch.pk])
    env = child_env(DJANGO_SETTINGS_MODULE=PAGES, LOG_DIR=str(tmp_path / "log"))

    with gunicorn(tmp_path, env=env) as base:
        archive = requests.get(base + link.url, timeout=60)
        assert archive.status_code == 200
        assert int(archive.headers["Content-Length"]) == len(archive.content) == link.size
        assert zipfile.ZipFile(io.BytesIO(archive.content)).testzip() is None
        # A resumed download, as on the whole site.
        tail = requests.get(base + link.url, headers={"Range": "bytes=100-"}, timeout=60)
        assert tail.status_code == 206 and tail.content == archive.content[100:]

        # Signed in as the owner (the session row is the database's, shared by both).
        session = requests.Session()
        session.cookies.set("sessionid", owner_client.cookies["sessionid"].value)
        page = session.get(f"{base}/batches/{batch.pk}/", timeout=30)
        assert page.status_code == 200 and batch.name in page.text
        job = batch.jobs.order_by("position").first()
        assert job is not None
        video = session.get(f"{base}/jobs/{job.pk}/video.mp4", timeout=30)
        assert video.status_code == 200 and len(video.content) == job.output_size
        # The API and the admin live in the other process (the proxy routes them there).
        assert requests.get(f"{base}/api/v1/batches/", timeout=30).status_code == 404
        assert requests.get(f"{base}/admin/", timeout=30, allow_redirects=False).status_code in (
            301,
            302,
        )


def test_it_never_loads_the_api_or_the_admin() -> None:
    probe = (
        "import sys, django; django.setup();"
        "from django.urls import resolve; resolve('/exports/download/');"
        "import heygem_site.wsgi;"
        "print(sorted(m for m in ('rest_framework', 'drf_spectacular', 'django.contrib.admin.sites',"
        " 'numpy', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=child_env(DJANGO_SETTINGS_MODULE=PAGES),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
