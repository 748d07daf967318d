"""Live updates in a real browser: a client's open case page shows a change made by staff
without a reload (Debian's chromium, driven by Playwright, against uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from portal_core.cases.model import CaseStatus, Visibility
from portal_core.cases.service import AddComment, ChangeStatus
from tests.e2e.live_support import LiveFirm, served_firm
from tests.e2e.test_browser_start_page import CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveFirm]:
    with served_firm(tmp_path_factory.mktemp("browser-live")) as served:
        yield served


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def signed_in_page(browser: Browser, firm: LiveFirm, name: str) -> Page:
    context = browser.new_context(base_url=firm.url)
    cookie, token = firm.session(name)
    context.add_cookies([{"name": cookie, "value": token, "url": firm.url}])
    return context.new_page()


def test_a_status_change_by_staff_appears_on_the_clients_open_page_without_a_reload(
    browser: Browser, firm: LiveFirm
) -> None:
    page = signed_in_page(browser, firm, "alice")
    case_id = firm.cases["acme"]
    try:
        page.goto(f"/cases/{case_id}")
        expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=5000)
        page.evaluate("window.__notReloaded = true")
        status = page.locator(f'[data-live-case="{case_id}"] [data-live-field="status"]')
        expect(status).to_have_text("New")

        firm.container.cases.comment(
            firm.principal("sam"),
            AddComment(case_id=case_id, body="Queried with HMRC", visibility=Visibility.INTERNAL),
        )
        firm.container.cases.change_status(
            firm.principal("sam"), ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
        )

        expect(status).to_have_text("In progress", timeout=2000)
        timeline = page.locator(f'[data-live-timeline="{case_id}"] li').last
        expect(timeline).to_contain_text("Status changed to In progress")
        expect(page.locator("#live-announcer")).to_contain_text("Status changed to In progress")
        assert page.evaluate("window.__notReloaded") is True
        assert "Queried with HMRC" not in page.content()
    finally:
        page.context.close()
