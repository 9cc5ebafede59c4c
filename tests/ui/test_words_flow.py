"""The batch page's Words card in a real browser: it waits while the audio is transcribed,
fills in by itself once the first job leaves the queue, and its subtitle link downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Template
from jobs.render import lifecycle
from jobs.render.worker import preparation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCRIPT = "Hello, this is HeyGem Studio. One audio drives many faces."


def test_the_words_card_fills_in_by_itself_and_offers_the_subtitles(
    transcripts_on: Path,
    live_server: object,
    browser_page: Page,
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    artifacts_dir: Path,
) -> None:
    batch = services.batch_create(
        owner=owner,
        audio_id=audio_clip.pk,
        template_ids=[template.pk],
        language="en",
        script=SCRIPT,
        captions="bottom",
    )
    client = Client()
    client.force_login(owner)
    base = str(live_server.url)  # type: ignore[attr-defined]
    page = browser_page
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]
    )

    page.goto(f"{base}/batches/{batch.pk}/")
    words = page.get_by_test_id("transcript")
    expect(words).to_contain_text("The transcript is made before the first video renders")

    # What the worker does: transcribe in the preparation step, then claim the first job.
    preparation.batch_prepare(batch_id=batch.pk)
    assert lifecycle.job_claim(job_id=batch.jobs.get().pk)

    expect(words).to_contain_text("Hello, this is", timeout=15_000)
    expect(words).to_contain_text("subtitles use your script's words")
    expect(page.locator("#subtitle-text")).to_contain_text(SCRIPT)
    expect(words).to_contain_text("captions burned in (bottom, medium)")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(artifacts_dir / "batch_words.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("#subtitles-srt").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("1\n00:00:00,") and "HeyGem Studio." in text
    assert page.js_errors == []  # type: ignore[attr-defined]
