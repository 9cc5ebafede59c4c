"""ZIP export in a real browser, against a live server (and, for rendered batches, a live worker).

1. Two batches rendered by the worker: the batch page's "Download all" shows the archive's
   exact size and downloads a ZIP with the expected members; on History, two selected batches
   download as one ZIP with one folder each.
2. A batch still rendering: "Download all" asks in the export panel, with one labelled button
   per choice ("Only finished (N)" / "Everything (M)"), and each button downloads what it says.
   With EXPORT_WARN_SIZE tiny, the warning shows and only a second click downloads.

Screenshots go to ``$TEST_ARTIFACTS/ui``; ``export.png`` (the question, step 2) is the
README's picture in docs/screenshots/ (copy it there by hand when the page changes).
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Download, Page, expect

from accounts.models import User
from heygem_site.formats import size_label as filesizeformat
from jobs import services
from jobs.export import export_archive
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from jobs.storage.paths import media_path
from rendering.cache import file_sha256
from tests.support.media import FACE, FACE_WITH_AUDIO
from tests.support.processes import wait_for
from tests.ui.test_batch_flow import shot

RENDER_TIMEOUT_S = 240  # CPU rendering on a small shared machine: a slow machine is no bug

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def sign_in(page: Page, base: str, user: User) -> None:
    """Give the browser the session of a user signed in through Django's test client."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": base}])


def downloaded_zip(download: Download, folder: Path) -> tuple[Path, zipfile.ZipFile]:
    path = folder / download.suggested_filename
    download.save_as(path)
    archive = zipfile.ZipFile(path)
    assert archive.testzip() is None, f"{path.name} has a corrupt member"
    return path, archive


def manifest(archive: zipfile.ZipFile, prefix: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(archive.read(f"{prefix}manifest.json"))["items"]
    return items


def export_button_size(page: Page) -> tuple[int, str]:
    button = page.locator("#download-all")
    return int(button.get_attribute("data-size") or -1), page.locator("#export-size").inner_text()


def fail_with_screenshot(page: Page, shots: Path, walk: Callable[[], None]) -> None:
    try:
        walk()
    except BaseException:
        with suppress(Exception):
            shot(page, shots, "export-zz-failure")
        raise
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


# --- 1. Finished batches: Download all, Download selected ----------------------------------


def test_it_downloads_a_batch_and_two_selected_batches_as_zips(
    live_server: Any,
    live_worker: Path,
    browser_page: Page,
    artifacts_dir: Path,
    tmp_path: Path,
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
) -> None:
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    face, talking = make_template(FACE), make_template(FACE_WITH_AUDIO)
    launch = services.batch_create(
        owner=owner,
        audio_id=audio_clip.pk,
        template_ids=[face.pk, talking.pk],
        name="Launch video",
    )
    second = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[face.pk], name="Second take"
    )
    wait_for(
        lambda: not RenderJob.objects.filter(batch__owner=owner).active().exists(),
        timeout=RENDER_TIMEOUT_S,
        what="the worker to render both batches",
    )
    statuses = list(RenderJob.objects.filter(batch__owner=owner).values_list("status", flat=True))
    assert statuses == [JobStatus.SUCCEEDED] * 3, f"{statuses}; see the worker log {live_worker}"
    sign_in(page, live_server.url, owner)

    def walk() -> None:
        # 1. The batch page: "Download all" carries the exact size of the archive.
        page.goto(f"{live_server.url}/batches/{launch.pk}/")
        expect(page.locator("#batch-status")).to_have_text("Done")
        size, label = export_button_size(page)
        assert size == export_archive(batches=[launch]).size
        assert label == f"({filesizeformat(size)})"
        expect(page.locator("#download-all")).to_contain_text("Download all")
        expect(page.locator("#download-all")).to_contain_text(filesizeformat(size))

        # 2. One click downloads the ZIP: sound, with the expected members and size.
        with page.expect_download() as info:
            page.locator("#download-all").click()
        path, archive = downloaded_zip(info.value, tmp_path)
        assert path.name == "Launch video.zip"
        assert path.stat().st_size == size
        assert sorted(archive.namelist()) == [
            "manifest.csv",
            "manifest.json",
            "output_001_face.mp4",
            "output_002_face_with_audio.mp4",
        ]
        rows = manifest(archive)
        assert [(r["position"], r["status"]) for r in rows] == [(1, "succeeded"), (2, "succeeded")]
        expect(page.locator("#export-summary")).to_contain_text("Launch video.zip")
        expect(page.locator("#export-summary")).to_contain_text(filesizeformat(size))
        expect(page.locator("#export-panel")).not_to_contain_text("null")
        shot(page, artifacts_dir, "export-01-batch-downloaded")

        # 3. History: select both batches, one ZIP with one folder each.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
        selected = page.locator("#download-selected")
        expect(selected).to_be_disabled()
        for name in ("Launch video", "Second take"):
            page.get_by_role("checkbox", name=f"Select {name}").check()
        expect(selected).to_be_enabled()
        with page.expect_download() as info:
            selected.click()
        path, archive = downloaded_zip(info.value, tmp_path)
        assert re.fullmatch(r"heygem_2_batches_\d{8}_\d{4}\.zip", path.name), path.name
        folders = {name.split("/", 1)[0] for name in archive.namelist()}
        assert folders == {"Launch video", "Second take"}
        assert sorted(n for n in archive.namelist() if n.startswith("Second take/")) == [
            "Second take/manifest.csv",
            "Second take/manifest.json",
            "Second take/output_001_face.mp4",
        ]
        assert len(manifest(archive, "Launch video/")) == 2
        expect(page.locator("#export-summary")).to_contain_text(path.name)
        shot(page, artifacts_dir, "export-02-history-downloaded")
        # Nothing asked: "Download selected" shares its form with "Delete selected" and must
        # not borrow its "Delete the selected batches?" question.
        assert dialogs == []
        assert Batch.objects.filter(pk__in=[launch.pk, second.pk]).count() == 2

    fail_with_screenshot(page, artifacts_dir, walk)


# --- 2. A batch still rendering; a large archive -------------------------------------------


def still_rendering_batch(owner: User, audio: AudioClip, template: Template) -> Batch:
    """A batch with one finished video and one still queued.

    Made from rows, with no worker running: a worker would finish the second video while the
    test looks at it. The finished video is a real MP4 in the owner's folder.
    """
    batch = Batch.objects.create(owner=owner, audio=audio, name="Still rendering")
    name = f"{owner.storage_prefix}/batches/{batch.pk.hex}/output_001.mp4"
    path = media_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FACE_WITH_AUDIO, path)
    RenderJob.objects.create(
        batch=batch,
        template=template,
        template_name="face.mp4",
        position=1,
        status=JobStatus.SUCCEEDED,
        output=name,
        output_size=path.stat().st_size,
        output_duration=2.0,
        output_sha256=file_sha256(path),
        finished_at=timezone.now(),
    )
    RenderJob.objects.create(batch=batch, template=template, template_name="later.mp4", position=2)
    return batch


def test_it_asks_what_to_pack_while_rendering_and_warns_before_a_large_download(
    live_server: Any,
    browser_page: Page,
    artifacts_dir: Path,
    tmp_path: Path,
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    settings: Any,
) -> None:
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    downloads: list[Download] = []
    page.on("download", lambda d: downloads.append(d))
    batch = still_rendering_batch(owner, audio_clip, template)
    sign_in(page, live_server.url, owner)

    def walk() -> None:
        page.goto(f"{live_server.url}/batches/{batch.pk}/")
        expect(page.locator("#batch-status")).to_have_attribute("data-status", "running")
        expect(page.get_by_test_id("batch-count")).to_have_text("1 / 2 done")

        # 1. "Download all" asks in the page, one labelled button per choice; nothing yet.
        page.locator("#download-all").click()
        only = page.get_by_role("button", name="Only finished (1)")
        everything = page.get_by_role("button", name="Everything (2)")
        expect(only).to_be_visible()
        expect(everything).to_be_visible()
        expect(page.locator("#export-question")).to_have_text(
            "This batch is still rendering: 1 of 2 videos are finished. "
            "What should the download hold?"
        )
        shot(page, artifacts_dir, "export-03-still-rendering-question")
        # For the README: the top of the batch page, its export panel included.
        page.screenshot(
            path=str(artifacts_dir / "export.png"),
            clip={"x": 0, "y": 0, "width": 1200, "height": 340},
        )
        assert downloads == [] and dialogs == []

        # 2. "Only finished": the finished video, a manifest listing it alone.
        with page.expect_download() as info:
            only.click()
        _, archive = downloaded_zip(info.value, tmp_path / "only")
        assert sorted(archive.namelist()) == [
            "manifest.csv",
            "manifest.json",
            "output_001_face.mp4",
        ]
        assert [(r["position"], r["status"]) for r in manifest(archive)] == [(1, "succeeded")]

        # 3. "Everything": the same video, the unfinished one listed as not ready (no file).
        page.locator("#download-all").click()
        with page.expect_download() as info:
            page.get_by_role("button", name="Everything (2)").click()
        _, archive = downloaded_zip(info.value, tmp_path / "everything")
        assert sorted(archive.namelist()) == [
            "manifest.csv",
            "manifest.json",
            "output_001_face.mp4",
        ]
        rows = manifest(archive)
        assert [(r["position"], r["status"], r["file"]) for r in rows] == [
            (1, "succeeded", "output_001_face.mp4"),
            (2, "queued", ""),
        ]

        # 4. Over EXPORT_WARN_SIZE (the live server runs in this process): a warning, and the
        #    download starts only on the second click.
        settings.EXPORT_WARN_SIZE = 1000
        page.locator("#download-all").click()
        count = len(downloads)
        page.get_by_role("button", name="Everything (2)").click()
        warning = page.locator("#export-warning")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("more than 1000")
        link = page.get_by_role("link", name="Download anyway")
        expect(link).to_be_visible()
        shot(page, artifacts_dir, "export-04-large-warning")
        assert len(downloads) == count, "the download started before the second click"
        with page.expect_download() as info:
            link.click()
        path, archive = downloaded_zip(info.value, tmp_path / "large")
        assert path.stat().st_size == int(link.get_attribute("data-size") or -1)
        assert dialogs == []

    for sub in ("only", "everything", "large"):
        (tmp_path / sub).mkdir()
    fail_with_screenshot(page, artifacts_dir, walk)
