"""The start page in a real browser: Debian's chromium, driven by Playwright, against uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from entrypoints.web import create_app
from tests.e2e.conftest import container_on_fakes, settings_for

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def portal_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The portal on in-memory fakes, served by uvicorn on a free loopback port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = settings_for(tmp_path_factory.mktemp("browser"), port=str(port))
    server = uvicorn.Server(
        uvicorn.Config(create_app(container_on_fakes(settings)), log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
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


@pytest.fixture
def page(browser: Browser, portal_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=portal_url)
    page = context.new_page()
    yield page
    context.close()


def test_start_page_greets_visitors_with_the_firm_name(page: Page) -> None:
    page.goto("/")

    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Welcome to the Example Partners LLP client portal"
    assert page.title() == "Example Partners LLP client portal"
    for landmark in ("banner", "main", "contentinfo"):
        assert page.get_by_role(landmark).count() == 1


def test_keyboard_users_reach_the_skip_link_first_and_it_jumps_to_the_content(
    page: Page,
) -> None:
    page.goto("/")

    page.keyboard.press("Tab")

    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    box = page.locator(".skip-link").bounding_box()
    assert box is not None
    assert box["y"] >= 0, "the focused skip link is on screen, not hidden above it"

    page.keyboard.press("Enter")

    assert page.evaluate("document.activeElement.id") == "main"


def test_start_page_loads_without_errors_or_policy_violations(page: Page) -> None:
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", note)
    response = page.goto("/")

    assert response is not None
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    assert problems == []
    # The stylesheet applied: the header has the portal's colour, not the browser default.
    colour = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert colour == "rgb(11, 79, 138)"


def test_no_horizontal_scrolling_on_a_small_phone(browser: Browser, portal_url: str) -> None:
    context = browser.new_context(base_url=portal_url, viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto("/")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    finally:
        context.close()
    assert overflow <= 0
