"""A Chinese content producer's first visit, in a real browser with a CJK font installed.

The browser asks for zh-CN; the walk signs up, makes a batch from one audio and two template
videos, watches the batch page reach "2/2 已完成", and finds it in History. Every page is in
Chinese, with no English left in what a user reads. Then the same pages in English (switched
in the header) and on a 390 px phone. A second test reads the face picker (谁在说话？) and
the quality report (同步, 请复查) in Chinese. A third reads what goes wrong: a failed job's
log, the manifest opened from the ZIP, a canceled batch, the account page on a phone, and
times on a browser in Asia/Shanghai. The screenshots (``$TEST_ARTIFACTS/ui/walk/``)
are the README's pictures in docs/screenshots/ (copy them there when the pages change).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from accounts.models import User
from heygem_site.formats import size_label
from jobs import services
from jobs.export import export_archive
from jobs.models import AudioClip, Batch, JobStatus, RenderJob, Template
from jobs.render.worker import preparation, runner
from tests.jobs.test_template_faces import make_two_faces_video
from tests.support.jobs import finish_job
from tests.support.media import FACE, FACE_WITH_AUDIO, SPEECH
from tests.ui.conftest import write_faceless_video
from tests.ui.test_batch_flow import shot
from tests.ui.test_export_flow import downloaded_zip, sign_in

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
    # In Shanghai, as the producers are: times on the pages are the browser's clock.
    context: BrowserContext = browser.new_context(
        viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
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
    r"Opus|CPU|GPU|Hz|KB|MB|GB|B\b|fps|\b[a-z0-9._-]+\.(?:mp4|wav)\b|\.zip\b|batch_\d{8}_\d{4}|Maya|"
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
    # The default name is the time on the producer's clock (Shanghai), not the server's UTC.
    now = datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai"))
    names = {f"{t:batch_%Y%m%d_%H%M}" for t in (now - timedelta(minutes=2), now)}
    names |= {f"{now - timedelta(minutes=1):batch_%Y%m%d_%H%M}"}
    assert page.locator("#batch-name").input_value() in names
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
    # After a click the chosen face says so (it no longer offers "让这张人脸说话"), with 你.
    options = picker.get_by_test_id("face-option")
    options.nth(1).click()
    expect(options.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(options.nth(1)).to_have_attribute("title", "说话人（你的选择）")
    expect(options.nth(0)).to_have_attribute("title", "让这张人脸说话")
    page.reload()
    options = page.get_by_test_id("library-template").filter(has_text="two_people.mp4")
    options = options.get_by_test_id("face-option")
    expect(options.nth(1)).to_have_attribute("title", "说话人（你的选择）")
    assert "您" not in page.locator("body").inner_text()

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


def test_a_failed_log_a_manifest_a_canceled_batch_the_account_and_shanghai_times(
    live_server: Any,
    zh_page: Page,
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    """What goes wrong, read in Chinese: a job the worker failed (no face) shows its log in
    Chinese and the ZIP's manifest words it in Chinese; a canceled batch has 📦 off and
    promises no transcript; the account page fits a 390 px phone; times are Shanghai's."""
    User.objects.filter(pk=owner.pk).update(display_name="王小明")
    faceless = make_template(write_faceless_video(tmp_path / "empty_room.mp4"), name="空房间.mp4")
    good = make_template(FACE, name="anna.mp4")
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[faceless.pk, good.pk], name="一个失败"
    )
    preparation.batch_prepare(batch_id=batch.pk)
    failed_job, done_job = batch.jobs.order_by("position")
    assert runner.job_run(job_id=failed_job.pk) == JobStatus.FAILED  # the worker's own code
    finish_job(done_job, status=JobStatus.SUCCEEDED, source=FACE)
    canceled = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[good.pk], name="取消了"
    )
    services.batch_cancel(batch=canceled)

    page = zh_page
    base = live_server.url
    page.goto(f"{base}/")  # the landing page, as every visit starts (it tells the time zone)
    sign_in(page, base, owner)
    shots = artifacts_dir / "walk"
    shots.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # 1. The dashboard does not hide the failure; the browser's zone is remembered.
    page.goto(f"{base}/dashboard/")
    counts = page.get_by_test_id("batch-counts")
    expect(counts.filter(has_text="1/2 已完成")).to_have_text("1/2 已完成，1 个失败")
    expect(counts.filter(has_text="0/1")).to_have_text("0/1 已完成，1 个已取消")
    owner.refresh_from_db()
    assert owner.time_zone == "Asia/Shanghai"

    # 2. The failed job's log, in Chinese; deleting it does not speak of a video.
    page.goto(f"{base}/batches/{batch.pk}/")
    failed_card = page.get_by_test_id("job-card").nth(0)
    failed_card.locator("details summary").click()
    log = failed_card.locator("details")
    expect(log).to_contain_text("第 1 次尝试，引擎：经典（CPU）")
    expect(log).to_contain_text("失败：这段视频中没有找到一张清晰的人脸")
    assert_no_english(page, "batch (failed log)")
    shot(page, shots, "zh-batch-failed-desktop")
    failed_card.get_by_role("button", name="删除").click()
    assert dialogs == ["确定从批次中删除这个失败项？它没有生成视频。"]

    # 3. The manifest opened from the ZIP: the failure in Chinese, its code beside it.
    with page.expect_download() as caught:
        page.locator("#download-all").click()
    _, archive = downloaded_zip(caught.value, tmp_path)
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    assert [r["status"] for r in rows] == ["failed", "succeeded"]
    assert rows[0]["error_code"] == "no_face"
    assert rows[0]["error"].startswith("这段视频中没有找到一张清晰的人脸")
    assert not re.search(r"[A-Za-z]{3,}", rows[0]["error"]), rows[0]["error"]
    items = json.loads(archive.read("manifest.json"))["items"]
    assert items[0]["error"] == rows[0]["error"]

    # 4. A canceled batch: nothing to download, no transcript promised.
    page.goto(f"{base}/batches/{canceled.pk}/")
    expect(page.get_by_test_id("batch-count")).to_have_text("0/1 已完成，1 个已取消")
    expect(page.locator("#download-all")).to_be_disabled()
    expect(page.locator("#batch-progress")).to_have_class(re.compile(r"\bstopped\b"))
    expect(page.locator("#download-all")).to_have_attribute(
        "title", "还没有可下载的内容：这个批次还没有生成完的视频。"
    )
    expect(page.get_by_test_id("transcript")).to_contain_text("这个批次在生成文字稿之前就取消了。")
    expect(page.get_by_test_id("transcript")).not_to_contain_text("刷新页面")
    assert_no_english(page, "canceled batch")
    shot(page, shots, "zh-batch-canceled-desktop", full_page=False)

    # 5. Times on the browser's clock (Asia/Shanghai), not the server's UTC.
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    page.goto(f"{base}/batches/new/")
    now = datetime.now(shanghai)
    names = {f"{t:batch_%Y%m%d_%H%M}" for t in (now - timedelta(minutes=1), now)}
    assert page.locator("#batch-name").input_value() in names
    page.goto(f"{base}/history/")
    created = batch.created_at.astimezone(shanghai).strftime("%Y-%m-%d %H:%M")
    row = page.get_by_test_id("history-row").filter(has_text="一个失败")
    expect(row.locator("time")).to_have_attribute("title", created)
    expect(row.get_by_test_id("expires")).to_have_text("7 天后过期")

    # 6. The account page on a 390 px phone: no sideways scroll, the link table stacked,
    # the storage share whole on one line, the word to type in Chinese.
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/accounts/")
    expect(page.get_by_test_id("export-link")).to_have_count(1)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the account page is {width} px wide on a phone"
    for share in page.locator(".nowrap").all():
        assert share.evaluate("e => e.getClientRects().length") == 1, share.inner_text()
    expect(page.locator("#delete-all-form")).to_contain_text("输入“删除”以确认")
    assert_no_english(page, "account (phone)")
    shot(page, shots, "zh-account-phone")

    # 7. A phone has nothing to drag from: the drop zone offers 选择音频文件.
    page.goto(f"{base}/batches/new/")
    expect(page.get_by_role("button", name="选择音频文件", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="选择模板视频", exact=True)).to_be_visible()
    expect(page.get_by_text("把音频文件拖到这里")).to_be_hidden()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the new batch page is {width} px wide on a phone"
    page.goto(f"{base}/batches/{batch.pk}/")
    video = page.locator("video[data-testid=job-video]")
    expect(video).to_have_attribute("poster", re.compile(r"/templates/.+"))
    page.wait_for_timeout(700)
    shot(page, shots, "zh-batch-failed-phone", full_page=False)
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
