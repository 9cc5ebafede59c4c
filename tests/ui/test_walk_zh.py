"""A Chinese content producer's first visit, in a real browser with a CJK font installed.

The browser asks for zh-CN; the walk signs up, makes a batch from one audio and two template
videos, watches the batch page reach "2/2 已完成", and finds it in History. Every page is in
Chinese, with no English left in what a user reads. Then the same pages in English (switched
in the header) and on a 390 px phone. A second test reads the face picker (谁在说话？) and
the quality report (同步, 请复查) in Chinese. The screenshots (``$TEST_ARTIFACTS/ui/walk/``)
are the README's pictures in docs/screenshots/ (copy them there when the pages change).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from accounts.models import User
from heygem_site.formats import size_label
from jobs import services
from jobs.export import export_archive
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from jobs.worker import preparation
from tests.jobs.test_template_faces import make_two_faces_video
from tests.support.jobs import finish_job
from tests.support.media import FACE, FACE_WITH_AUDIO, SPEECH
from tests.ui.test_batch_flow import shot
from tests.ui.test_export_flow import sign_in

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
        # The header's storage figure is whole, not cut off ("10 G…").
        usage = page.get_by_test_id("header-usage").locator("small")
        assert usage.evaluate("e => e.scrollWidth <= e.clientWidth"), usage.inner_text()
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


def test_who_speaks_and_the_quality_report_read_in_chinese(
    live_server: Any,
    zh_page: Page,
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    """A template card with two faces asks 谁在说话？; the batch page says 同步 0.81 and, for a
    weak result, 请复查 with its reasons in Chinese (server-made labels, no English left)."""
    two = make_template(make_two_faces_video(tmp_path / "two.mp4"), name="two_people.mp4")
    preparation.template_analyse(template_id=two.pk)
    good = make_template(FACE, name="anna.mp4")
    weak = make_template(FACE_WITH_AUDIO, name="anna_small.mp4")
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[good.pk, weak.pk], name="质量检查"
    )
    User.objects.filter(pk=owner.pk).update(display_name="王小明")  # no Latin name on the page
    reports = [
        {"sync": 0.81, "review": False, "reasons": [], "coverage": 1.0},
        {"sync": 0.32, "review": True, "reasons": ["sync_low", "coverage_low"], "coverage": 0.4},
    ]
    for job, report in zip(batch.jobs.order_by("position"), reports, strict=True):
        finish_job(job, status=JobStatus.SUCCEEDED, source=FACE)
        RenderJob.objects.filter(pk=job.pk).update(quality=report)
    page = zh_page
    sign_in(page, live_server.url, owner)
    shots = artifacts_dir / "walk"
    shots.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/templates/")
    card = page.get_by_test_id("library-template").filter(has_text="two_people.mp4")
    picker = card.get_by_test_id("face-picker")
    expect(picker).to_contain_text("谁在说话？")
    expect(picker.get_by_test_id("face-option")).to_have_count(2)
    expect(picker.get_by_test_id("face-option").nth(0)).to_have_attribute(
        "title", "说话人（自动选择）"
    )
    expect(picker.locator("img").nth(1)).to_have_attribute("alt", "人脸 2")
    shot(page, shots, "zh-templates-faces-desktop", full_page=False)

    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    cards = page.get_by_test_id("job-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).get_by_test_id("job-quality")).to_contain_text("同步 0.81")
    weak_quality = cards.nth(1).get_by_test_id("job-quality")
    expect(weak_quality).to_contain_text("同步 0.32")
    expect(weak_quality.get_by_test_id("review-badge")).to_have_text("请复查")
    expect(weak_quality.locator("li").nth(0)).to_have_text("嘴型与语音不够贴合。")
    assert_no_english(page, "batch (quality)")
    page.wait_for_timeout(700)  # the bars' width transition
    shot(page, shots, "zh-batch-quality-desktop")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
