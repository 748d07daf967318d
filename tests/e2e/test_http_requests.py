"""What the app accepts before any route runs: Host headers and CSRF tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import TestClient

from entrypoints.web import create_app
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for


@post("/echo", sync_to_thread=False)
def echo(data: JSONBody[dict[str, str]]) -> dict[str, str]:
    return data


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    app = create_app(container_on_fakes(settings_for(tmp_path)), route_handlers=[echo])
    with TestClient(app, base_url=f"http://{TEST_HOST}") as client:
        yield client


@pytest.mark.parametrize("host", [TEST_HOST, f"{TEST_HOST}:8000", "127.0.0.1", "127.0.0.1:8000"])
def test_allowed_hosts_are_served_with_or_without_the_listening_port(
    client: TestClient[Litestar], host: str
) -> None:
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["portal.attacker.example", f"{TEST_HOST}:9999", "localhost"])
def test_other_hosts_are_refused(client: TestClient[Litestar], host: str) -> None:
    assert client.get("/healthz", headers={"Host": host}).status_code == 400


def test_a_form_post_without_the_csrf_token_is_refused(client: TestClient[Litestar]) -> None:
    response = client.post("/echo", json={"note": "hello"})

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Forbidden"


def test_a_post_with_the_csrf_cookie_and_header_goes_through(
    client: TestClient[Litestar],
) -> None:
    client.get("/")
    token = client.cookies["csrftoken"]

    response = client.post("/echo", json={"note": "hello"}, headers={"X-CSRF-Token": token})

    assert response.status_code == 201
    assert response.json() == {"note": "hello"}
