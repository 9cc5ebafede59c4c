"""The streamed ZIP export: what is inside, that real tools accept it, and its links."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import struct
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from heygem_site.logging import JsonFormatter
from jobs import services
from jobs.export import ExportNotFound, export_link_create
from jobs.models import Batch, ExportToken, JobStatus, RenderJob
from rendering.cache import file_sha256
from tests.support.export import download, mint, path_of
from tests.support.tools import system_tool

pytestmark = pytest.mark.django_db

HOSTILE_NAMES = [
    "../../../etc/passwd.mp4",
    "/absolute/evil.mp4",
    "..\\..\\windows\\system32.mp4",
    'CON:*?"<>|.mp4',
    "\x07bell\nline\tbreak.mp4",
    "....",
    ".hidden.mp4",
    "日本語 テスト.mp4",
]


def local_header_is_zip32(data: bytes, info: zipfile.ZipInfo) -> bool:
    offset = info.header_offset
    signature, version, *_rest, name_len, extra_len = struct.unpack(
        "<IHHHHHIIIHH", data[offset : offset + 30]
    )
    assert signature == 0x04034B50
    extra = data[offset + 30 + name_len : offset + 30 + name_len + extra_len]
    ids = []
    while len(extra) >= 4:
        header_id, size = struct.unpack("<HH", extra[:4])
        ids.append(header_id)
        extra = extra[4 + size :]
    return version < 45 and 0x0001 not in ids


def test_it_streams_an_archive_that_zipfile_unzip_and_bsdtar_accept(
    make_batch: Callable[..., Batch], owner_client: Client, tmp_path: Path
) -> None:
    batch = make_batch()
    link = mint(owner_client, batch)
    body, headers = download(link["url"])

    # The size promised before the download, the Content-Length and the bytes sent agree.
    assert int(headers["Content-Length"]) == len(body) == link["size"]
    assert headers["Content-Type"] == "application/zip"
    assert headers["Content-Disposition"].startswith('attachment; filename="Launch ad.zip"')
    assert "Last-Modified" in headers

    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names == [
        "output_001_face.mp4",
        "output_002_face.mp4",
        "manifest.csv",
        "manifest.json",
    ]
    videos = [i for i in archive.infolist() if i.filename.endswith(".mp4")]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in videos)
    assert local_header_is_zip32(body, archive.infolist()[0])

    zip_path = tmp_path / "export.zip"
    zip_path.write_bytes(body)
    unzip = subprocess.run(
        [system_tool("unzip", "unzip"), "-t", str(zip_path)], capture_output=True, text=True
    )
    assert unzip.returncode == 0, unzip.stdout + unzip.stderr
    assert "No errors detected" in unzip.stdout
    listing = subprocess.run(
        [system_tool("bsdtar", "libarchive-tools"), "-tf", str(zip_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listing.stdout.split() == names
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        [system_tool("bsdtar", "libarchive-tools"), "-xf", str(zip_path), "-C", str(out)],
        check=True,
    )

    manifest = json.loads((out / "manifest.json").read_text())
    rows = list(csv.DictReader(io.StringIO((out / "manifest.csv").read_text("utf-8-sig"))))
    for job, row, item in zip(
        batch.jobs.order_by("position"), rows, manifest["items"], strict=True
    ):
        original = Path(settings.MEDIA_ROOT) / job.output.name
        extracted = out / row["file"]
        digest = hashlib.sha256(extracted.read_bytes()).hexdigest()
        assert digest == file_sha256(original) == row["sha256"] == item["sha256"]
        assert row["status"] == "succeeded" and item["size_bytes"] == original.stat().st_size
        assert row["template"] == "face.mp4" and row["duration_seconds"] == "2.0"


def test_it_answers_head_with_the_same_length_as_get(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    link = mint(owner_client, make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED)))
    head = Client().head(path_of(link["url"]))
    assert head.status_code == 200
    body, headers = download(link["url"])
    assert head["Content-Length"] == headers["Content-Length"] == str(len(body))
    assert head["Content-Disposition"] == headers["Content-Disposition"]
    assert b"".join(head.streaming_content) == b""  # type: ignore[attr-defined]


def test_it_lists_failed_items_in_the_manifest_only(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    batch = make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED))
    body, _ = download(mint(owner_client, batch)["url"])
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert [n for n in archive.namelist() if n.endswith(".mp4")] == ["output_001_face.mp4"]
    items = json.loads(archive.read("manifest.json"))["items"]
    assert [(i["position"], i["status"], i["file"]) for i in items] == [
        (1, "succeeded", "output_001_face.mp4"),
        (2, "failed", ""),
        (3, "canceled", ""),
    ]
    assert items[1]["error"].startswith("No face was found")
    assert items[1]["sha256"] == "" and items[1]["size_bytes"] is None
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    assert rows[1]["error"] == items[1]["error"]


def test_it_names_members_safely_whatever_the_template_names(
    make_batch: Callable[..., Batch], owner_client: Client, tmp_path: Path
) -> None:
    statuses = (JobStatus.SUCCEEDED,) * len(HOSTILE_NAMES)
    batch = make_batch("../../boot/ x", statuses=statuses, template_names=HOSTILE_NAMES)
    body, headers = download(mint(owner_client, batch)["url"])
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(set(names)) == len(names) == len(HOSTILE_NAMES) + 2
    for name in names:
        assert not name.startswith(("/", "\\", ".")), name
        assert "/" not in name and "\\" not in name and ".." not in name, name
        assert not any(ord(c) < 32 or c in ':*?"<>|' for c in name), name
    assert "output_008_日本語 テスト.mp4" in names
    # The batch name is cleaned in the download name too, and given exactly per RFC 5987.
    assert "filename*=UTF-8''boot_%20x.zip" in headers["Content-Disposition"]
    # The names the manifest keeps are the originals (it is data, not a path).
    items = json.loads(archive.read("manifest.json"))["items"]
    assert [i["template"] for i in items] == HOSTILE_NAMES
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "zip").write_bytes(body)
    subprocess.run(
        [system_tool("unzip", "unzip"), "-q", str(tmp_path / "zip"), "-d", str(out)], check=True
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(names)


def test_it_puts_each_batch_of_a_multi_batch_export_in_its_own_folder(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    first = make_batch("Spring", statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED))
    second = make_batch("Spring", statuses=(JobStatus.SUCCEEDED,))
    third = make_batch("Ünïcode ✓", statuses=(JobStatus.SUCCEEDED, JobStatus.SUCCEEDED))
    response = owner_client.post(
        reverse("batches_export_selected"),
        {"batch": [str(first.pk), str(second.pk), str(third.pk)]},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    link = response.json()
    body, headers = download(link["url"])
    assert len(body) == link["size"]
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    assert archive.namelist() == [
        "Spring/output_001_face.mp4",
        "Spring/manifest.csv",
        "Spring/manifest.json",
        "Spring (2)/output_001_face.mp4",
        "Spring (2)/manifest.csv",
        "Spring (2)/manifest.json",
        "Ünïcode ✓/output_001_face.mp4",
        "Ünïcode ✓/output_002_face.mp4",
        "Ünïcode ✓/manifest.csv",
        "Ünïcode ✓/manifest.json",
    ]
    assert json.loads(archive.read("Spring (2)/manifest.json"))["batch"]["id"] == str(second.pk)
    assert headers["Content-Disposition"].startswith('attachment; filename="heygem_3_batches_')


def test_it_leaves_unfinished_items_out_when_asked(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    batch = make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.QUEUED))
    everything = zipfile.ZipFile(io.BytesIO(download(mint(owner_client, batch)["url"])[0]))
    only_finished = zipfile.ZipFile(
        io.BytesIO(download(mint(owner_client, batch, finished_only="1")["url"])[0])
    )
    assert [i["status"] for i in json.loads(everything.read("manifest.json"))["items"]] == [
        "succeeded",
        "queued",
    ]
    assert [i["status"] for i in json.loads(only_finished.read("manifest.json"))["items"]] == [
        "succeeded"
    ]


def test_it_refuses_an_expired_link(make_batch: Callable[..., Batch], owner: User) -> None:
    batch = make_batch()
    age = settings.EXPORT_LINK_MAX_AGE
    stale = export_link_create(user=owner, batch_ids=[batch.pk], now=time.time() - age - 5)
    fresh = export_link_create(user=owner, batch_ids=[batch.pk], now=time.time() - age + 30)
    refused = Client().get(stale.url)
    assert refused.status_code == 410 and b"This download link has expired" in refused.content
    assert Client().head(stale.url).status_code == 410
    assert Client().get(fresh.url).status_code == 200


def test_it_refuses_a_tampered_or_unknown_token(
    make_batch: Callable[..., Batch], owner: User
) -> None:
    link = export_link_create(user=owner, batch_ids=[make_batch().pk])
    token = link.url.split("token=", 1)[1]
    # The token is opaque: nothing in it names the user or the batches.
    assert len(token) >= 43 and ":" not in token  # 32 random bytes, not a signed payload
    assert Batch.objects.get().pk.hex not in token
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token + "x", "", "not-a-token", "x" * 500):
        response = Client().get(reverse("export_download"), {"token": bad})
        assert response.status_code == 404
        assert b"Launch" not in response.content
    assert Client().get(link.url).status_code == 200


def test_it_gives_no_link_or_archive_for_another_users_batch(
    make_batch: Callable[..., Batch], other: User, other_client: Client, owner: User
) -> None:
    batch = make_batch()
    with pytest.raises(ExportNotFound):
        export_link_create(user=other, batch_ids=[batch.pk])
    response = other_client.post(
        reverse("batches_export_selected"),
        {"batch": [str(batch.pk)]},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 404
    assert not ExportToken.objects.exists()


def test_it_revokes_links_when_a_batch_is_deleted(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    keep, gone = make_batch("Keep"), make_batch("Gone")
    single = mint(owner_client, gone)
    response = owner_client.post(
        reverse("batches_export_selected"),
        {"batch": [str(keep.pk), str(gone.pk)]},
        HTTP_ACCEPT="application/json",
    )
    both = response.json()
    assert Client().head(path_of(single["url"])).status_code == 200
    services.batch_delete(batch=gone)
    for url in (single["url"], both["url"]):
        refused = Client().get(path_of(url))
        assert refused.status_code == 410 and b"was deleted" in refused.content


def test_it_warns_before_a_large_download(
    make_batch: Callable[..., Batch], owner_client: Client, settings
) -> None:
    batch = make_batch()
    assert mint(owner_client, batch)["warning"] == ""
    settings.EXPORT_WARN_SIZE = 1000
    link = mint(owner_client, batch)
    assert "more than 1000" in str(link["warning"])
    page = owner_client.get(reverse("batch_detail", args=[batch.pk])).content.decode()
    assert f'data-size="{link["size"]}"' in page  # the button shows the exact size


def test_it_redirects_a_browser_without_script_to_the_download(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    response = owner_client.post(reverse("batch_export", args=[make_batch().pk]))
    assert response.status_code == 302 and "/exports/download/?token=" in response["Location"]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # As the project's handlers would write it (console and JSON run log), and every
        # attribute besides, for a handler someone adds later.
        self.lines.append(self.format(record))
        self.lines.append(JsonFormatter().format(record))
        self.lines.append(repr(vars(record)))


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    handler = _Capture()
    names = ["", "heygem", "heygem.jobs", "django", "django.request", "django.server"]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_it_keeps_the_token_out_of_the_application_log(
    make_batch: Callable[..., Batch], owner: User, captured_logs: _Capture
) -> None:
    batch = make_batch()
    link = export_link_create(user=owner, batch_ids=[batch.pk])
    expired = export_link_create(user=owner, batch_ids=[batch.pk], now=time.time() - 3600)
    download(link.url)
    Client().head(link.url)
    assert Client().get(expired.url).status_code == 410
    assert Client().get(link.url + "x").status_code == 404
    services.batch_delete(batch=batch)
    assert Client().get(link.url).status_code == 410
    text = "\n".join(captured_logs.lines)
    # The log did record these requests (so this test can fail) ...
    assert "export downloaded" in text and "Not Found: /exports/download/" in text
    assert "Gone: /exports/download/" in text
    # ... and never a token.
    for url in (link.url, expired.url):
        token = url.split("token=", 1)[1]
        assert token[:20] not in text


def test_it_redacts_tokens_from_request_lines() -> None:
    from heygem_site.log_redaction import RedactTokens

    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        "",
        0,
        '"%s" %s %s',
        ("GET /exports/download/?token=eyJ1Ijo:1abc:sig&x=1 HTTP/1.1", "200", "5"),
        None,
    )
    RedactTokens().filter(record)
    assert record.getMessage() == '"GET /exports/download/?token=[redacted]&x=1 HTTP/1.1" 200 5'


def test_the_admin_exports_selected_batches_with_the_same_archive(
    make_batch: Callable[..., Batch], admin_client: Client
) -> None:
    first, second = make_batch("One"), make_batch("Two", statuses=(JobStatus.FAILED,))
    response = admin_client.post(
        reverse("admin:jobs_batch_changelist"),
        {"action": "export_zip", "_selected_action": [str(first.pk), str(second.pk)]},
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert int(response["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    assert {n.split("/")[0] for n in archive.namelist()} == {"One", "Two"}
    assert "Two/output_001_face.mp4" not in archive.namelist()


def test_it_hashes_a_result_without_a_stored_checksum_while_streaming(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    batch = make_batch()
    RenderJob.objects.filter(batch=batch).update(output_sha256="")
    body, _ = download(mint(owner_client, batch)["url"])
    items = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("manifest.json"))["items"]
    jobs = list(batch.jobs.order_by("position"))
    assert [i["sha256"] for i in items] == [j.output_sha256 for j in jobs]
    assert jobs[0].output_sha256 == file_sha256(Path(settings.MEDIA_ROOT) / jobs[0].output.name)
