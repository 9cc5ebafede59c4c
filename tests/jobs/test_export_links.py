"""Export links are opaque rows the owner (or an admin) can revoke, listed on the account
page while valid; the archive is the same bytes every time, so a broken download resumes
with a byte range (issue #15, item 5)."""

from __future__ import annotations

import io
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from django.contrib import admin as django_admin
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import User
from jobs.export import export_link_create
from jobs.models import Batch, ExportToken
from tests.support.export import mint, path_of
from tests.support.processes import gunicorn
from tests.support.tools import system_tool

pytestmark = pytest.mark.django_db


def body_of(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content)


def test_links_are_listed_on_the_account_page_and_revoked_by_their_owner(
    make_batch: Callable[..., Batch], owner_client: Client, other_client: Client
) -> None:
    batch = make_batch("Spring launch")
    link = mint(owner_client, batch)
    row = ExportToken.objects.get()
    assert row.token_sha256 not in str(link["url"])  # only the hash is stored
    page = owner_client.get(reverse("accounts:account")).content.decode()
    assert "Spring launch.zip" in page and reverse("export_link_revoke", args=[row.pk]) in page
    assert Client().get(path_of(link["url"])).status_code == 200

    # Another user cannot revoke it (404), the owner can.
    assert other_client.post(reverse("export_link_revoke", args=[row.pk])).status_code == 404
    assert Client().get(path_of(link["url"])).status_code == 200
    answer = owner_client.post(reverse("export_link_revoke", args=[row.pk]))
    assert answer.status_code == 302
    gone = Client().get(path_of(link["url"]))
    assert gone.status_code == 410 and b"This download link was revoked" in gone.content
    assert Client().head(path_of(link["url"])).status_code == 410
    page = owner_client.get(reverse("accounts:account")).content.decode()
    assert "Spring launch.zip" not in page and "No download link is valid right now" in page


def test_an_admin_can_revoke_any_link(
    make_batch: Callable[..., Batch], owner: User, admin: User
) -> None:
    link = export_link_create(user=owner, batch_ids=[make_batch().pk])
    model_admin = django_admin.site._registry[ExportToken]
    request = RequestFactory().post("/admin/")
    request.user = admin
    request._messages = type("M", (), {"add": lambda *a, **k: None})()  # type: ignore[attr-defined]
    model_admin.revoke(request, ExportToken.objects.all())  # type: ignore[attr-defined]
    row = ExportToken.objects.get()
    assert row.revoked_at is not None and row.revoked_by == admin
    assert Client().get(link.url).status_code == 410


def test_a_link_stops_when_its_owner_is_deactivated(
    make_batch: Callable[..., Batch], owner: User
) -> None:
    link = export_link_create(user=owner, batch_ids=[make_batch().pk])
    assert Client().head(link.url).status_code == 200
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert Client().get(link.url).status_code == 410


def test_the_archive_is_the_same_bytes_every_time_and_serves_byte_ranges(
    make_batch: Callable[..., Batch], owner: User
) -> None:
    link = export_link_create(user=owner, batch_ids=[make_batch().pk])
    first = Client().get(link.url)
    assert first.status_code == 200 and first["Accept-Ranges"] == "bytes"
    etag = first["ETag"]
    whole = body_of(first)
    assert len(whole) == link.size == int(first["Content-Length"])
    time.sleep(2.1)  # past the ZIP format's two-second clock: "now" must not leak in
    again = Client().get(link.url)
    assert again["ETag"] == etag and body_of(again) == whole

    size = len(whole)
    for header, (start, end) in [
        ("bytes=100-199", (100, 199)),
        (f"bytes={size - 300}-", (size - 300, size - 1)),
        ("bytes=-50", (size - 50, size - 1)),
        (f"bytes=10-{size + 999}", (10, size - 1)),
    ]:
        part = Client().get(link.url, HTTP_RANGE=header, HTTP_IF_RANGE=etag)
        assert part.status_code == 206, header
        assert part["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert int(part["Content-Length"]) == end - start + 1
        assert body_of(part) == whole[start : end + 1]
    head = Client().head(link.url, HTTP_RANGE="bytes=5-9")
    assert head.status_code == 206 and head["Content-Length"] == "5"
    # A range against another version of the archive gets all of it; one past the end, 416.
    stale = Client().get(link.url, HTTP_RANGE="bytes=100-199", HTTP_IF_RANGE='"older"')
    assert stale.status_code == 200 and body_of(stale) == whole
    beyond = Client().get(link.url, HTTP_RANGE=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{size}"
    assert zipfile.ZipFile(io.BytesIO(whole)).testzip() is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_curl_resumes_a_broken_download_through_gunicorn(
    make_batch: Callable[..., Batch], owner: User, tmp_path: Path
) -> None:
    link = export_link_create(user=owner, batch_ids=[make_batch().pk])
    with gunicorn(tmp_path, "--error-logfile", str(tmp_path / "error.log")) as base:
        url = base + link.url
        whole = requests.get(url, timeout=30).content
        assert len(whole) == link.size
        # The connection broke after 40 % of the archive: curl -C - asks for the rest.
        target = tmp_path / "export.zip"
        target.write_bytes(whole[: int(len(whole) * 0.4)])
        subprocess.run(
            [system_tool("curl", "curl"), "-sS", "--fail", "-C", "-", "-o", str(target), url],
            check=True,
            timeout=60,
        )
        assert target.read_bytes() == whole
        tested = subprocess.run(
            ["unzip", "-t", str(target)], capture_output=True, text=True, check=False
        )
        assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout
