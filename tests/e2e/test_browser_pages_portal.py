"""The portal's pages in a real browser (Debian's chromium via Playwright, against uvicorn on
in-memory storage with files on local disk): a client submits a request with a file and sees
its number, an invoice PDF downloads, the main pages pass axe-core with no serious or critical
violation, and they fit a 320 px phone screen."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from attrs import frozen
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.test_browser_start_page import CHROMIUM_ARGS
from tests.e2e.test_pages_access import PASSWORD, Firm, build_firm
from tests.e2e.test_pages_flows import PDF, issued_invoice

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}


@frozen
class Portal:
    url: str
    firm: Firm
    invoice_id: str


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    firm = build_firm(tmp_path_factory.mktemp("browser-pages"), local_files=True, port=port)
    invoice_id = issued_invoice(firm)
    server = uvicorn.Server(uvicorn.Config(firm.app(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield Portal(url=f"http://127.0.0.1:{port}", firm=firm, invoice_id=invoice_id)
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def open_context(browser: Browser, portal: Portal, **options: Any) -> BrowserContext:
    return browser.new_context(base_url=portal.url, **options)


def sign_in(page: Page, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard$"))


def test_a_client_submits_a_request_with_a_file_and_sees_its_case_number(
    browser: Browser, portal: Portal, tmp_path: Path
) -> None:
    letter = tmp_path / "engagement letter.pdf"
    letter.write_bytes(PDF)
    context = open_context(browser, portal)
    try:
        page = context.new_page()
        tickets: list[str] = []
        page.on(
            "request",
            lambda request: (
                tickets.append(request.url)
                if request.url.endswith("/cases/upload-ticket")
                else None
            ),
        )
        sign_in(page, "alice@acme.example")
        page.get_by_role("link", name="Submit a new request").click()
        page.get_by_label("Subject").fill("Supplier agreement review")
        page.get_by_label("What do you need?").fill("Liability and termination clauses, please.")
        page.get_by_label("High").check()
        page.get_by_label("Files").set_input_files(letter)
        page.get_by_role("button", name="Send request").click()

        number = page.locator("#case-number")
        number.wait_for()
        reference = number.inner_text()
        heading = page.get_by_role("heading", level=1).inner_text()
    finally:
        context.close()

    assert re.fullmatch(r"C-\d{6}", reference)
    assert heading == "Request received"
    assert len(tickets) == 1, "the script sent the file with a ticket, straight to the store"
    alice = portal.firm.users["alice"].as_principal()
    cases = portal.firm.container.cases
    (found,) = cases.list_cases(alice, query_for(reference)).items
    attachments = cases.get_case(alice, found.id).attachments
    assert [a.display_name for a in attachments] == ["engagement letter.pdf"]


def query_for(reference: str) -> Any:
    from portal_core.ports import CaseQuery  # noqa: PLC0415

    return CaseQuery(text=reference)


def test_a_client_downloads_an_invoice_pdf(browser: Browser, portal: Portal) -> None:
    context = open_context(browser, portal, accept_downloads=True)
    try:
        page = context.new_page()
        sign_in(page, "bill@acme.example")
        page.get_by_role("navigation").get_by_role("link", name="Invoices").click()
        page.locator(f"a[href='/invoices/{portal.invoice_id}']").click()
        with page.expect_download() as downloading:
            page.get_by_role("link", name="Download PDF").click()
        download = downloading.value
        content = Path(download.path()).read_bytes()
        name = download.suggested_filename
    finally:
        context.close()

    assert content.startswith(b"%PDF-")
    assert name.endswith(".pdf")


MAIN_PAGES = {
    "alice@acme.example": [
        "/dashboard",
        "/cases",
        "/cases/new",
        "/invoices",
        "/account/second-factor",
    ],
    "sam@firm.example": ["/staff/queue", "/staff/invoices"],
    "ada@firm.example": ["/admin/organisations"],
}


def axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    # A page that axe could not check would pass silently: it must have checked something.
    assert len(result["passes"]) > 10, page.url
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in result["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def test_the_main_pages_have_no_serious_or_critical_accessibility_violations(
    browser: Browser, portal: Portal
) -> None:
    found: list[str] = []
    # axe is injected as an inline script: the test's browser lets it past the page's CSP.
    anonymous = open_context(browser, portal, bypass_csp=True)
    try:
        page = anonymous.new_page()
        for path in ("/", "/sign-in", "/password-reset"):
            page.goto(path)
            found += axe_violations(page)
    finally:
        anonymous.close()
    case_id = portal.firm.cases["alice"]
    extra = {
        "alice@acme.example": [f"/cases/{case_id}", f"/invoices/{portal.invoice_id}"],
        "sam@firm.example": [f"/staff/cases/{case_id}"],
        "ada@firm.example": ["/admin/organisations/acme"],
    }
    for email, paths in MAIN_PAGES.items():
        context = open_context(browser, portal, bypass_csp=True)
        try:
            page = context.new_page()
            sign_in(page, email)
            for path in [*paths, *extra[email]]:
                page.goto(path)
                found += axe_violations(page)
        finally:
            context.close()

    assert found == []


def test_the_pages_fit_a_320_px_phone_without_sideways_scrolling(
    browser: Browser, portal: Portal
) -> None:
    case_id = portal.firm.cases["alice"]
    context = open_context(browser, portal, viewport={"width": 320, "height": 640})
    overflowing: list[str] = []
    try:
        page = context.new_page()
        page.goto("/sign-in")
        sign_in(page, "alice@acme.example")
        for path in ("/dashboard", "/cases", "/cases/new", f"/cases/{case_id}", "/invoices"):
            page.goto(path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                overflowing.append(f"{path}: {overflow} px")
    finally:
        context.close()

    assert overflowing == []


def test_a_keyboard_user_signs_in_and_posts_a_comment_without_a_mouse(
    browser: Browser, portal: Portal
) -> None:
    case_id = portal.firm.cases["alice"]
    context = open_context(browser, portal)
    try:
        page = context.new_page()
        page.goto("/sign-in")
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Enter")
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "email":
                break
        page.keyboard.type("alice@acme.example")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/dashboard$"))

        page.goto(f"/cases/{case_id}")
        page.get_by_label("Your comment").focus()
        page.keyboard.type("Sent from the keyboard.")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        page.keyboard.press("Enter")
        page.get_by_text("Your comment was added.").wait_for()
        timeline = page.locator(f"[data-live-timeline='{case_id}']").inner_text()
    finally:
        context.close()

    assert focused == "Add comment"
    assert "Sent from the keyboard." in timeline


def test_a_refused_file_is_explained_beside_the_input_and_nothing_is_sent(
    browser: Browser, portal: Portal, tmp_path: Path
) -> None:
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ" + b"\0" * 200)
    alice = portal.firm.users["alice"].as_principal()
    before = portal.firm.container.cases.list_cases(alice, query_for("")).total
    context = open_context(browser, portal)
    try:
        page = context.new_page()
        sign_in(page, "alice@acme.example")
        page.goto("/cases/new")
        page.get_by_label("Subject").fill("Installer")
        page.get_by_label("What do you need?").fill("Please look at this program.")
        page.get_by_label("Files").set_input_files(program)
        page.get_by_role("button", name="Send request").click()
        alert = page.locator(".upload-progress [role='alert']")
        alert.wait_for()
        message = alert.inner_text()
        still_here = page.url.endswith("/cases/new")
    finally:
        context.close()

    assert message
    assert still_here
    assert portal.firm.container.cases.list_cases(alice, query_for("")).total == before


def test_when_the_store_cannot_be_reached_the_form_carries_the_files_itself(
    browser: Browser, portal: Portal, tmp_path: Path
) -> None:
    letter = tmp_path / "minutes.pdf"
    letter.write_bytes(PDF)
    context = open_context(browser, portal)
    try:
        page = context.new_page()
        page.route("**/files/upload/**", lambda route: route.abort())
        sign_in(page, "alice@acme.example")
        page.goto("/cases/new")
        page.get_by_label("Subject").fill("Board minutes")
        page.get_by_label("What do you need?").fill("Filing, please.")
        page.get_by_label("Files").set_input_files(letter)
        page.get_by_role("button", name="Send request").click()
        number = page.locator("#case-number")
        number.wait_for()
        reference = number.inner_text()
    finally:
        context.close()

    alice = portal.firm.users["alice"].as_principal()
    (found,) = portal.firm.container.cases.list_cases(alice, query_for(reference)).items
    attachments = portal.firm.container.cases.get_case(alice, found.id).attachments
    assert [a.display_name for a in attachments] == ["minutes.pdf"]


def test_a_form_with_errors_takes_the_focus_to_their_summary(
    browser: Browser, portal: Portal
) -> None:
    context = open_context(browser, portal)
    try:
        page = context.new_page()
        sign_in(page, "alice@acme.example")
        page.goto("/cases/new")
        page.get_by_role("button", name="Send request").click()
        page.locator("#error-summary").wait_for()
        page.wait_for_function("document.activeElement.id === 'error-summary'")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('href')")
        described = page.get_by_label("Subject").get_attribute("aria-describedby")
    finally:
        context.close()

    assert focused == "#subject"
    assert described == "subject-error"
