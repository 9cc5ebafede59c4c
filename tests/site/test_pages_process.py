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
        # A batch with subtitles and the account page link to the API (its subtitle files,
        # its docs): named here too, at the whole site's addresses.
        Batch.objects.filter(pk=batch.pk).update(
            subtitle_cues=[{"start": 0.0, "end": 1.0, "lines": ["Hello"]}]
        )
        page = session.get(f"{base}/batches/{batch.pk}/", timeout=30)
        assert page.status_code == 200, page.text[:500]
        assert f"/api/v1/batches/{batch.pk}/subtitles.srt" in page.text
        account = session.get(f"{base}/accounts/", timeout=30)
        assert account.status_code == 200 and "/api/v1/docs/" in account.text
        elsewhere = requests.get(f"{base}/api/v1/batches/{batch.pk}/subtitles.srt", timeout=30)
        assert elsewhere.status_code == 404
        assert elsewhere.json()["error"]["code"] == "not_found"
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


def test_every_api_address_the_pages_link_to_is_named_in_the_pages_process_too() -> None:
    """The same paths as the whole site's, and every "api:" name a template or page reverses."""
    import re

    from django.urls import reverse

    from heygem_site import urls_pages
    from rendering.subtitle_formats import FORMATS

    args = {
        "batch_id": "0b0b0b0b-0000-4000-8000-000000000000",
        "job_id": "0b0b0b0b-0000-4000-8000-000000000001",
    }
    for name, route in urls_pages.API_NAMES_PAGES_LINK_TO.items():
        kwargs = {k: v for k, v in args.items() if f"<uuid:{k}>" in route}
        whole = reverse(f"api:{name}", kwargs=kwargs, urlconf="heygem_site.urls")
        pages = reverse(f"api:{name}", kwargs=kwargs, urlconf="heygem_site.urls_pages")
        assert whole == pages, name
    used: set[str] = set()
    for folder in ("templates", "jobs", "accounts", "heygem_site"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".html", ".py") and "/api/" not in str(path):
                used |= set(re.findall(r"""["']api:([a-z_-]+)["']""", path.read_text()))
    named = set(urls_pages.API_NAMES_PAGES_LINK_TO)
    # 'api:batch-subtitles-'|add:suffix: a prefix the template completes, one name per format
    prefixes = {name for name in used if name.endswith("-")}
    for prefix in prefixes:
        assert {f"{prefix}{suffix}" for suffix in FORMATS} <= named, prefix
    assert used and used - prefixes <= named, used
