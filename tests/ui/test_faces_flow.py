"""Who speaks, and how well, in a real browser against a live server.

1. A template showing two people: its library card shows both faces with the default
   marked; clicking the other saves the choice in place (the script's path) and marks it.
   On the new-batch page the same picker sits on the library card, and choosing there keeps
   the form's ticked templates.
2. The batch page shows each result's sync figure and, for one a person should look at, a
   "Please review" badge with the reasons in words.

Screenshots go to ``$TEST_ARTIFACTS/ui`` (faces-*.png, quality-*.png).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, JobStatus, RenderJob, Template
from jobs.render.worker import preparation
from tests.jobs.test_template_faces import make_two_faces_video
from tests.support.jobs import finish_job
from tests.support.media import FACE, FACE_WITH_AUDIO
from tests.ui.test_batch_flow import shot
from tests.ui.test_export_flow import fail_with_screenshot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def two_faces(make_template: Callable[..., Template], tmp_path: Path) -> Template:
    template = make_template(make_two_faces_video(tmp_path / "two people.mp4"))
    preparation.template_analyse(template_id=template.pk)
    template.refresh_from_db()
    return template


def test_it_picks_the_face_that_speaks_on_the_card(
    live_server: Any, browser_page: Page, owner: User, two_faces: Template, artifacts_dir: Path
) -> None:
    page = browser_page
    sign_in(page, live_server.url, owner)

    def walk() -> None:
        page.goto(f"{live_server.url}/templates/")
        picker = page.get_by_test_id("face-picker")
        options = picker.get_by_test_id("face-option")
        expect(options).to_have_count(2)
        expect(options.nth(0)).to_have_attribute("aria-pressed", "true")
        shot(page, artifacts_dir, "faces-library")
        options.nth(1).click()
        expect(options.nth(1)).to_have_attribute("aria-pressed", "true")
        expect(options.nth(0)).to_have_attribute("aria-pressed", "false")
        two_faces.refresh_from_db()
        assert two_faces.face_choice == 1
        assert page.url.endswith("/templates/")  # saved in place, no reload

        page.goto(f"{live_server.url}/batches/new/")
        page.locator("details.reuse summary").last.click()
        card = page.locator("label.card.pick")
        card.locator("input[name=templates]").check()
        card.get_by_test_id("face-option").nth(0).click()
        expect(card.get_by_test_id("face-option").nth(0)).to_have_attribute("aria-pressed", "true")
        expect(card.locator("input[name=templates]")).to_be_checked()
        two_faces.refresh_from_db()
        assert two_faces.face_choice == 0
        shot(page, artifacts_dir, "faces-new-batch")

    fail_with_screenshot(page, artifacts_dir, walk)


def test_a_template_uploaded_on_the_new_batch_page_offers_its_faces(
    live_server: Any,
    live_worker: Path,
    browser_page: Page,
    owner: User,
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    """The upload's card waits for the worker's face analysis, then shows the picker."""
    video = make_two_faces_video(tmp_path / "two people.mp4")
    page = browser_page
    sign_in(page, live_server.url, owner)

    def walk() -> None:
        page.goto(f"{live_server.url}/batches/new/")
        page.set_input_files("#template-input", str(video))
        card = page.get_by_test_id("template-card")
        options = card.get_by_test_id("face-option")
        expect(options).to_have_count(2, timeout=120_000)
        expect(options.nth(0)).to_have_attribute("aria-pressed", "true")
        options.nth(1).click()
        expect(options.nth(1)).to_have_attribute("aria-pressed", "true")
        template = Template.objects.get(owner=owner)
        assert template.face_choice == 1
        shot(page, artifacts_dir, "faces-upload")

    fail_with_screenshot(page, artifacts_dir, walk)


def test_the_batch_page_shows_sync_and_asks_to_review_a_weak_result(
    live_server: Any,
    browser_page: Page,
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    artifacts_dir: Path,
) -> None:
    good = make_template(FACE, name="anna.mp4")
    weak = make_template(FACE_WITH_AUDIO, name="anna small.mp4")
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[good.pk, weak.pk], name="Quality"
    )
    reports = [
        {"sync": 0.81, "review": False, "reasons": [], "coverage": 1.0},
        {"sync": 0.32, "review": True, "reasons": ["sync_low", "coverage_low"], "coverage": 0.4},
    ]
    for job, report in zip(batch.jobs.order_by("position"), reports, strict=True):
        finish_job(job, status=JobStatus.SUCCEEDED, source=FACE)
        RenderJob.objects.filter(pk=job.pk).update(quality=report)
    page = browser_page
    sign_in(page, live_server.url, owner)

    def walk() -> None:
        page.goto(f"{live_server.url}/batches/{batch.pk}/")
        cards = page.get_by_test_id("job-card")
        expect(cards).to_have_count(2)
        expect(cards.nth(0).get_by_test_id("job-quality")).to_contain_text("Sync 0.81")
        expect(cards.nth(0).get_by_test_id("review-badge")).to_have_count(0)
        weak_card = cards.nth(1).get_by_test_id("job-quality")
        expect(weak_card).to_contain_text("Sync 0.32")
        expect(weak_card.get_by_test_id("review-badge")).to_have_text("Please review")
        expect(weak_card.locator("li")).to_have_count(2)
        expect(weak_card).to_contain_text("does not follow the words")
        shot(page, artifacts_dir, "quality-batch")

    fail_with_screenshot(page, artifacts_dir, walk)
