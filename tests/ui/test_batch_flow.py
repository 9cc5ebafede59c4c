"""The product's main path in a real browser, against a live server and a live worker.

Sign up, upload one audio and four templates (two good, one with no face, one that is not a
video at all): the one with no face is taken out of the batch with a sentence before the
start. Start the batch, watch it finish as "2 / 2 done", play a result, delete a result, and
delete the batch from History. Screenshots of each
step go to ``$TEST_ARTIFACTS/ui`` (default ``test-artifacts/ui``); the README's pictures come
from tests/ui/test_walk_zh.py.
"""

from __future__ import annotations

import json
import re
import wave
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SPEECH = FIXTURES / "speech.wav"
# CPU rendering on a small, shared CI machine: generous, because a slow machine is not a bug.
RENDER_TIMEOUT_MS = 240_000

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def shot(page: Page, folder: Path, name: str, *, full_page: bool = True) -> None:
    """Screenshot with no text field focused.

    Chromium takes a full-page screenshot by resizing the viewport; with a text field
    focused, it later "scrolls the focused field into view" for that resize, at the next
    focus change: the mousedown of the next click then hits the button and the mouseup
    whatever scrolled under the pointer, and no click happens.
    """
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def job_cards(page: Page) -> Any:
    return page.locator("[data-testid=job-card]")


def template_card(page: Page, name: str) -> Any:
    exact = page.locator("strong.name", has_text=re.compile(rf"^{re.escape(name)}$"))
    return page.get_by_test_id("template-card").filter(has=exact)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def embedded_state(page: Page) -> dict[str, Any]:
    """The batch state the server rendered into the page (what it saw at that request)."""
    return json.loads(page.locator("#batch-state").text_content() or "{}")


def test_it_renders_a_batch_from_signup_to_deletion(
    live_server: Any,
    live_worker: Path,
    browser_page: Page,
    artifacts_dir: Path,
    faceless_mp4: Path,
    not_a_video: Path,
) -> None:
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    worker_log = live_worker
    try:
        _walk_the_main_path(page, live_server.url, artifacts_dir, faceless_mp4, not_a_video)
    except BaseException:
        with suppress(Exception):
            shot(page, artifacts_dir, "zz-failure")
        tail = worker_log.read_text(errors="replace")[-4000:] if worker_log.exists() else ""
        print(f"--- worker log (tail) ---\n{tail}")
        raise
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


def _walk_the_main_path(
    page: Page, base: str, shots: Path, faceless_mp4: Path, not_a_video: Path
) -> None:
    # 1. Sign up as a new user: it lands signed in.
    page.goto(f"{base}/accounts/signup/")
    page.fill("#id_email", "maya@example.com")
    page.fill("#id_display_name", "Maya Test")
    page.fill("#id_password1", "correct horse battery staple")
    page.fill("#id_password2", "correct horse battery staple")
    shot(page, shots, "01-signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("user-name")).to_have_text("Maya Test")

    # 2. New batch: one audio, then four templates in one pick.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New batch").click()
    expect(page.get_by_role("heading", name="New batch", level=1)).to_be_visible()
    start = page.locator("#start-batch")
    expect(start).to_be_disabled()

    page.set_input_files("#audio-input", str(SPEECH))
    audio = page.get_by_test_id("audio-upload")
    expect(audio.locator(".progress.ok")).to_be_visible()
    expect(audio).to_contain_text("speech.wav")
    expect(audio).to_contain_text("4.8 s")
    expect(audio.get_by_test_id("audio-preview")).to_be_visible()  # listen before the start

    page.set_input_files(
        "#template-input",
        [
            str(FIXTURES / "face.mp4"),
            str(FIXTURES / "face_with_audio.mp4"),
            str(faceless_mp4),
            str(not_a_video),
        ],
    )
    cards = page.get_by_test_id("template-card")
    expect(cards).to_have_count(4)
    # The three real videos get a preview; the text file gets a sentence, not a preview.
    expect(cards.get_by_test_id("template-preview")).to_have_count(3, timeout=60_000)
    bad = template_card(page, "bad.mp4")
    expect(bad).to_have_class(re.compile(r"\brejected\b"))
    rejection = bad.locator(".field-error")
    expect(rejection).to_be_visible()
    sentence = rejection.inner_text()
    assert "Upload" in sentence and "HTTP" not in sentence, sentence
    assert sentence.rstrip().endswith("."), sentence
    for name in ("face.mp4", "face_with_audio.mp4", "no_face.mp4"):
        card = template_card(page, name)
        expect(card).to_have_count(1)
        expect(card.get_by_test_id("template-preview")).to_be_visible()
    for name in ("face.mp4", "face_with_audio.mp4"):
        expect(template_card(page, name).locator(".field-error")).to_have_count(0)
    # The worker checks each template for a face; the page updates its badges by polling.
    for name in ("face.mp4", "face_with_audio.mp4"):
        expect(template_card(page, name).locator(".badge")).to_have_text(
            "Face found", timeout=120_000
        )
    no_face = template_card(page, "no_face.mp4")
    expect(no_face.locator(".badge")).to_have_text("No usable face", timeout=120_000)
    # Said before the start: that template will not be in the batch, and why.
    # The face check's own sentence (as the Templates page says it), then what it means here.
    expect(no_face.get_by_test_id("no-face")).to_have_text(
        "We could not find one clear face in this video. Use a video where one person faces "
        "the camera, well lit, for most of the clip. It will not be in this batch."
    )
    expect(page.locator("#start-hint")).to_have_text("2 videos will speak this audio.")
    page.fill("#batch-name", "Launch video")
    expect(start).to_be_enabled()
    shot(page, shots, "02-new-batch")
    # For the README: from the uploaded audio down to the Start button, in one viewport.
    page.evaluate(
        "() => { const audio = document.getElementById('audio-uploads'); window.scrollTo(0, audio.getBoundingClientRect().top + window.scrollY - 80); }"
    )
    shot(page, shots, "new_batch", full_page=False)

    # 3. Start: the batch page fills up to "2 / 2 done" (the faceless template stayed out).
    with page.expect_navigation(url=re.compile(r"/batches/[0-9a-f-]{36}/$")):
        start.click()
    expect(page.get_by_test_id("batch-name")).to_have_text("Launch video")
    expect(job_cards(page)).to_have_count(2)
    expect(job_cards(page).filter(has_text="no_face.mp4")).to_have_count(0)
    shot(page, shots, "03-batch-started")
    count = page.get_by_test_id("batch-count")
    expect(count).to_have_text("2 / 2 done", timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#batch-status")).to_have_text("Done")
    expect(job_cards(page).and_(page.locator("[data-status=succeeded]"))).to_have_count(2)

    # 4. Play the first result: it plays, and it lasts as long as the audio.
    video = page.locator("video[data-testid=job-video]").first
    page.wait_for_function(
        "v => v.readyState >= 1 && isFinite(v.duration)", arg=video.element_handle()
    )
    played = video.evaluate(
        "v => { v.muted = true; return v.play().then(() => true, e => String(e)); }"
    )
    assert played is True, f"the browser refused to play the result: {played}"
    page.wait_for_function("v => v.currentTime > 0", arg=video.element_handle(), timeout=15_000)
    duration = video.evaluate("v => v.duration")
    audio_seconds = wav_seconds(SPEECH)
    assert abs(duration - audio_seconds) <= 0.3, (
        f"the result lasts {duration:.2f} s; the audio lasts {audio_seconds:.2f} s"
    )
    page.wait_for_timeout(800)  # a frame into the clip, for the screenshot
    shot(page, shots, "04-batch-done-playing")
    shot(page, shots, "batch_done", full_page=False)

    # 5. Delete one result: its card goes, the count follows.
    doomed = job_cards(page).and_(page.locator("[data-status=succeeded]")).first
    doomed_id = doomed.get_attribute("data-job")
    with page.expect_navigation():
        doomed.get_by_role("button", name="Delete").click()
    expect(page.locator(f"[data-job='{doomed_id}']")).to_have_count(0)
    expect(job_cards(page)).to_have_count(1)
    expect(count).to_have_text("1 / 1 done")
    shot(page, shots, "05-result-deleted")

    # 6. History lists the batch; deleting it there (through its page) removes it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    row = page.get_by_test_id("history-row").filter(has_text="Launch video")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("1 / 1 done")
    shot(page, shots, "06-history")
    row.get_by_role("link", name="Launch video").click()
    with page.expect_navigation(url=re.compile(r"/history/$")):
        page.locator("#delete-batch").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted the batch")
    expect(page.get_by_test_id("history-row")).to_have_count(0)
    expect(page.get_by_text("No batches yet.")).to_be_visible()
    shot(page, shots, "07-history-after-delete")
