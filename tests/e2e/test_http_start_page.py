"""The start page and the API description, through HTTP."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from entrypoints.web import create_app
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for


def test_start_page_names_the_firm_and_what_clients_can_do(client: TestClient[Litestar]) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<h1 id="page-heading">Welcome to the Example Partners LLP client portal</h1>' in page
    assert "Submit a request" in page
    assert 'href="/api/v1/schema"' in page


def test_start_page_is_built_for_keyboards_and_screen_readers(
    client: TestClient[Litestar],
) -> None:
    page = client.get("/").text

    assert '<html lang="en-GB">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    # The skip link comes before any other link, and points at the main landmark.
    assert page.index('class="skip-link" href="#main"') < page.index('class="brand"')
    assert '<main id="main"' in page
    assert "<header" in page
    assert "<footer" in page


def test_firm_name_is_escaped_in_pages(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, firm_name="<script>alert(1)</script> & Co")
    app = create_app(container_on_fakes(settings))

    with TestClient(app, base_url=f"http://{TEST_HOST}") as client:
        page = client.get("/").text

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page


def test_stylesheet_is_served(client: TestClient[Litestar]) -> None:
    response = client.get("/static/portal.css")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in response.text


def test_api_description_is_published_under_the_api_prefix(client: TestClient[Litestar]) -> None:
    response = client.get("/api/v1/schema/openapi.json")

    assert response.status_code == 200
    description = response.json()
    assert description["info"]["title"] == "Example Partners LLP client portal"
    assert {"/healthz", "/readyz"} <= set(description["paths"])
    assert "/" not in description["paths"], "pages are not part of the API"


def test_api_reference_page_is_served(client: TestClient[Litestar]) -> None:
    response = client.get("/api/v1/schema")

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_static_files_are_compressed_but_pages_are_not(client: TestClient[Litestar]) -> None:
    # Pages will carry CSRF tokens next to reflected input: compressing them invites BREACH.
    gzip = {"Accept-Encoding": "gzip"}

    page = client.get("/", headers=gzip)
    stylesheet = client.get("/static/portal.css", headers=gzip)

    assert len(page.content) > 1024
    assert "content-encoding" not in page.headers
    assert stylesheet.headers["content-encoding"] == "gzip"
