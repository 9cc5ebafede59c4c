"""Rough edges a new user hit, in a real browser against a live server (no worker needed).

- Re-dropping a file that is already in the template library selects it (it used to say
  "already added" and leave it out, so the batch started with fewer videos).
- New batch plays the uploaded audio and previews a template before the start.
- "started … ago" keeps moving while the page stays open.
- History fits a 390 px phone screen, with a one-click 📦 per row.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, JobStatus, Template
from tests.support.jobs import finish_job
from tests.support.media import FACE, FACE_WITH_AUDIO, SPEECH
from tests.ui.test_export_flow import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_redropping_a_library_template_selects_it(
    live_server: Any, browser_page: Page, owner: User, template: Template
) -> None:
    page = browser_page
    sign_in(page, live_server.url, owner)
    page.goto(f"{live_server.url}/batches/new/")
    library_box = page.locator(f"input[name=templates][value='{template.pk}']")
    expect(library_box).not_to_be_checked()
    page.set_input_files("#audio-input", str(SPEECH))
    expect(page.get_by_test_id("audio-upload").locator(".progress.ok")).to_be_visible()
    # The same content as the library's template (under another name), plus a new one.
    page.set_input_files("#template-input", [str(FACE), str(FACE_WITH_AUDIO)])
    expect(page.get_by_test_id("library-selected")).to_contain_text("Already in your library")
    expect(library_box).to_be_checked()
    expect(page.locator("#start-hint")).to_have_text("2 videos will speak this audio.")
    expect(page.locator("#start-batch")).to_be_enabled()
    with page.expect_navigation(url=re.compile(r"/batches/[0-9a-f-]{36}/$")):
        page.locator("#start-batch").click()
    expect(page.locator("[data-testid=job-card]")).to_have_count(2)
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


def test_new_batch_plays_the_audio_and_previews_templates(
    live_server: Any, browser_page: Page, owner: User, template: Template
) -> None:
    page = browser_page
    sign_in(page, live_server.url, owner)
    page.goto(f"{live_server.url}/batches/new/")
    page.set_input_files("#audio-input", str(SPEECH))
    preview = page.get_by_test_id("audio-preview")
    expect(preview).to_be_visible()
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 4", arg=preview.element_handle())
    page.set_input_files("#template-input", str(FACE_WITH_AUDIO))
    video = page.get_by_test_id("template-card").get_by_test_id("template-preview")
    expect(video).to_be_visible()
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=video.element_handle())
    # Library templates play too, from the server.
    page.locator("details.reuse summary", has_text="template library").click()
    library = page.locator(".pick").get_by_test_id("template-preview").first
    expect(library).to_have_attribute("src", f"/templates/{template.pk}/video")
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


def _batch(owner: User, audio_clip: AudioClip, template: Template, name: str) -> Any:
    return services.batch_create(
        owner=owner, audio_id=str(audio_clip.pk), template_ids=[str(template.pk)], name=name
    )


def test_started_ago_keeps_moving(
    live_server: Any, browser_page: Page, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    page = browser_page
    batch = _batch(owner, audio_clip, template, "Moving time")
    sign_in(page, live_server.url, owner)
    page.clock.install()
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    started = page.locator("p.muted time[data-relative]")
    expect(started).to_have_text("just now")
    page.clock.fast_forward("05:00")
    expect(started).to_have_text("5 minutes ago")


def test_history_fits_a_phone_and_zips_a_row_in_one_click(
    live_server: Any, browser_page: Page, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    page = browser_page
    for i in range(3):
        _batch(owner, audio_clip, template, f"A rather long batch name for a phone {i}")
    sign_in(page, live_server.url, owner)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/history/")
    expect(page.get_by_test_id("history-row")).to_have_count(3)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"History is {width} px wide on a 390 px screen"
    expect(page.get_by_test_id("row-download").first).to_be_visible()


def test_a_history_row_downloads_its_zip_in_one_click(
    live_server: Any, browser_page: Page, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    page = browser_page
    batch = _batch(owner, audio_clip, template, "One click")
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"not really an mp4")
    sign_in(page, live_server.url, owner)
    page.goto(f"{live_server.url}/history/")
    row = page.get_by_test_id("history-row").filter(has_text="One click")
    with page.expect_download() as download:
        row.get_by_test_id("row-download").click()
    assert download.value.suggested_filename.endswith(".zip")
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]
