"""The Content-Security-Policy (heygem_site.http_edges) in a real browser: the pages, the
admin and the API docs work under it, with no violation reported; and it does block what it
is there to block (an inline script)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from jobs.models import Batch, JobStatus
from tests.ui.test_export_flow import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _violations(page: Page) -> list[str]:
    """CSP refusals the browser reported (console errors starting "Refused to ...")."""
    return [e for e in page.js_errors if "Refused to" in e or "Content Security" in e]  # type: ignore[attr-defined]


def test_the_pages_the_admin_and_the_api_docs_work_under_the_policy(
    live_server: Any, browser_page: Page, owner: User, admin: User, make_batch: Any
) -> None:
    page = browser_page
    batch: Batch = make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.RUNNING))
    Batch.objects.filter(pk=batch.pk).update(
        subtitle_cues=[{"start": 0.0, "end": 1.0, "lines": ["Hello"]}]
    )
    sign_in(page, live_server.url, owner)
    for path, marker in [
        ("/dashboard/", "main"),
        (f"/batches/{batch.pk}/", "[data-testid=job-card]"),
        ("/history/", "main"),
        ("/templates/", "main"),
        ("/batches/new/", "#start-batch"),
        ("/accounts/", "main"),
        ("/accounts/api-keys/", "main"),
    ]:
        response = page.goto(live_server.url + path)
        assert response is not None and response.ok, path
        assert "default-src 'self'" in (response.headers.get("content-security-policy") or "")
        expect(page.locator(marker).first).to_be_visible()
    # The batch page's scripts ran (its progress bar and its live cards are script-driven).
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    expect(page.locator("[data-testid=job-card]")).to_have_count(2)
    # The API docs: Swagger UI renders the schema (its start-up script is a file now).
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("HeyGem Studio API")
    expect(page.locator(".opblock").first).to_be_visible()

    # The admin, as staff.
    sign_in(page, live_server.url, admin)
    page.goto(f"{live_server.url}/admin/jobs/renderjob/")
    expect(page.locator("#result_list")).to_be_visible()
    page.goto(f"{live_server.url}/admin/jobs/batch/{batch.pk}/change/")
    expect(page.locator("#batch_form")).to_be_visible()
    assert _violations(page) == [], _violations(page)
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


def test_the_policy_blocks_an_injected_inline_script(
    live_server: Any, browser_page: Page, owner: User
) -> None:
    page = browser_page
    sign_in(page, live_server.url, owner)
    page.goto(f"{live_server.url}/dashboard/")
    ran = page.evaluate(
        """() => new Promise(resolve => {
            window.injected = false;
            document.addEventListener('securitypolicyviolation', () => resolve(window.injected));
            const s = document.createElement('script');
            s.textContent = 'window.injected = true';
            document.body.appendChild(s);
            setTimeout(() => resolve(window.injected), 2000);
        })"""
    )
    assert ran is False
    assert _violations(page), "the browser reported no violation"
