"""A Chinese content producer's first visit, in a real browser with a CJK font installed.

The browser asks for zh-CN; the walk signs up, makes a batch from one audio and two template
videos, watches the batch page reach "2/2 已完成", and finds it in History. Every page is in
Chinese, with no English left in what a user reads. Then the same pages in English (switched
in the header) and on a 390 px phone. The screenshots (``$TEST_ARTIFACTS/ui/walk/``) are the
README's pictures in docs/screenshots/ (copy them there when the pages change).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from heygem_site.formats import size_label
from jobs.export import export_archive
from jobs.models import Batch
from tests.support.media import FACE, FACE_WITH_AUDIO, SPEECH
from tests.ui.test_batch_flow import shot

RENDER_TIMEOUT_MS = 240_000
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def cjk_font_installed() -> bool:
    try:
        fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return False
    return bool(fonts.stdout.strip())


@pytest.fixture
def zh_page(browser_page: Page) -> Iterator[Page]:
    """A second browser context whose language is Chinese (Accept-Language: zh-CN)."""
    if not cjk_font_installed():
        # Without one, Chromium draws Chinese as empty boxes: the screenshots would lie.
        pytest.fail(
            "No Chinese font is installed, so the Chinese screenshots would show boxes. "
            "Install one (Debian/Ubuntu: apt-get install fonts-noto-cjk) and run again.",
            pytrace=False,
        )
    browser = browser_page.context.browser
    assert browser is not None
    context: BrowserContext = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.js_errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


# Latin words a Chinese page may show: names, formats and units, not sentences.
ALLOWED_LATIN = re.compile(
    r"HeyGem Studio|HeyGem|English|ZIP|API|Webhook|MP4|MOV|WebM|MKV|AVI|WAV|MP3|M4A|AAC|FLAC|OGG|"
    r"Opus|CPU|GPU|Hz|KB|MB|GB|B\b|fps|\b[a-z0-9._-]+\.(?:mp4|wav)\b|batch_\d{8}_\d{4}|Maya|"
    r"[\w.+-]+@[\w.-]+|delete|HTTP|X-HeyGem-\w+|[#×/%·:()（）.,\d\s-]"
)


def assert_no_english(page: Page, where: str) -> None:
    text = page.locator("body").inner_text()
    leftover = ALLOWED_LATIN.sub(" ", text)
    words = re.findall(r"[A-Za-z]{3,}", leftover)
    assert not words, f"English left on the Chinese {where} page: {sorted(set(words))}"


def test_a_chinese_producer_walks_signup_new_batch_batch_page_and_history(
    live_server: Any, live_worker: Path, zh_page: Page, artifacts_dir: Path
) -> None:
    page = zh_page
    shots = artifacts_dir / "walk"
    shots.mkdir(exist_ok=True)
    base = live_server.url
    try:
        _walk(page, base, shots)
    except BaseException:
        with suppress(Exception):
            shot(page, shots, "zz-failure")
        tail = live_worker.read_text(errors="replace")[-4000:] if live_worker.exists() else ""
        print(f"--- worker log (tail) ---\n{tail}")
        raise
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


def _walk(page: Page, base: str, shots: Path) -> None:
    # 0. The landing page says what the product does, in Chinese.
    page.goto(f"{base}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("一段音频，批量生成数字人口播视频")
    assert_no_english(page, "landing")
    shot(page, shots, "zh-landing-desktop", full_page=False)

    # 1. Sign up.
    page.get_by_role("link", name="免费注册").click()
    page.fill("#id_email", "maya@example.com")
    page.fill("#id_display_name", "Maya")
    page.fill("#id_password1", "correct horse battery staple")
    page.fill("#id_password2", "correct horse battery staple")
    assert_no_english(page, "sign-up")
    page.get_by_role("button", name="注册").click()
    expect(page.get_by_test_id("user-name")).to_have_text("Maya")
    expect(page.get_by_role("status").first).to_contain_text("欢迎使用 HeyGem Studio")

    # 2. 批量生成: one audio, two templates.
    page.get_by_role("navigation").get_by_role("link", name="批量生成").click()
    expect(page.get_by_role("heading", name="批量生成", level=1)).to_be_visible()
    expect(page.locator("#start-hint")).to_have_text("添加一段音频即可开始。")
    page.set_input_files("#audio-input", str(SPEECH))
    audio = page.get_by_test_id("audio-upload")
    expect(audio.locator(".progress.ok")).to_be_visible()
    expect(audio).to_contain_text("4.8 秒")
    page.set_input_files("#template-input", [str(FACE), str(FACE_WITH_AUDIO)])
    badges = page.get_by_test_id("template-card").locator(".badge")
    expect(badges).to_have_count(2, timeout=60_000)
    for i in range(2):
        expect(badges.nth(i)).to_have_text("已检测到人脸", timeout=120_000)
    expect(page.locator("#start-hint")).to_have_text("将有 2 段视频说出这段音频。")
    page.fill("#batch-name", "春季新品口播")
    assert_no_english(page, "new batch")
    shot(page, shots, "zh-new-batch-desktop")

    # 3. The batch page: "2/2 已完成".
    with page.expect_navigation(url=re.compile(r"/batches/[0-9a-f-]{36}/$")):
        page.locator("#start-batch").click()
    count = page.get_by_test_id("batch-count")
    expect(count).to_have_text("2/2 已完成", timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#batch-status")).to_have_text("已完成")
    expect(page.locator("#download-all")).to_contain_text("一键打包下载")
    expect(page.locator("#batch-eta")).to_contain_text("视频共")
    page.wait_for_function(
        "v => v.readyState >= 2",
        arg=page.locator("video[data-testid=job-video]").first.element_handle(),
    )
    # The 📦 button's size follows the finished videos (it said "1 KB" from page load before).
    batch = Batch.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[-1])
    size = export_archive(batches=[batch]).size
    expect(page.locator("#download-all")).to_have_attribute("data-size", str(size))
    expect(page.locator("#export-size")).to_have_text(f"({size_label(size)})")
    assert_no_english(page, "batch")
    page.wait_for_timeout(700)  # the bars' width transition
    shot(page, shots, "zh-batch-desktop")
    batch_url = page.url

    # 4. History finds it, by name and by template name.
    page.get_by_role("navigation").get_by_role("link", name="历史记录").click()
    row = page.get_by_test_id("history-row").filter(has_text="春季新品口播")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2/2 已完成")
    expect(row.get_by_test_id("row-download")).to_be_enabled()
    assert_no_english(page, "history")
    shot(page, shots, "zh-history-desktop", full_page=False)

    # 5. The same pages on a phone.
    page.set_viewport_size(PHONE)
    for name, url in (
        ("new-batch", f"{base}/batches/new/"),
        ("batch", batch_url),
        ("history", f"{base}/history/"),
    ):
        page.goto(url)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width} px wide on a {PHONE['width']} px phone"
        page.wait_for_timeout(700)  # the bars' width transition
        shot(page, shots, f"zh-{name}-phone", full_page=False)

    # 6. Switch to English in the header: remembered for this user, on every page.
    page.set_viewport_size(DESKTOP)
    page.get_by_test_id("language-switch").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for name, url in (
        ("new-batch", f"{base}/batches/new/"),
        ("batch", batch_url),
        ("history", f"{base}/history/"),
    ):
        page.goto(url)
        expect(page.get_by_role("navigation").get_by_role("link", name="History")).to_be_visible()
        page.wait_for_timeout(700)
        shot(page, shots, f"en-{name}-desktop", full_page=name != "history")
    page.set_viewport_size(PHONE)
    page.goto(batch_url)
    expect(count).to_have_text("2 / 2 done")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the English batch page is {width} px wide on a phone"
    page.wait_for_timeout(700)
    shot(page, shots, "en-batch-phone", full_page=False)
