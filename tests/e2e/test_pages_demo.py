"""The demo people can sign in to the embedded portal with the published demo password, and
never to a production portal, even one with demo data switched on."""

from __future__ import annotations

from pathlib import Path

from attrs import evolve
from litestar.testing import TestClient

from entrypoints.cli import _serve_banner
from entrypoints.demo import DEMO_PASSWORD, PEOPLE, load_demo_data
from entrypoints.settings import Environment
from entrypoints.web import create_app
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for
from tests.e2e.test_pages_access import csrf

ELLA = "ella.hart@northwind.example"


def sign_in_as_ella(app: object) -> int:
    with TestClient(app, base_url=f"http://{TEST_HOST}") as client:  # type: ignore[arg-type]
        response = client.post(
            "/sign-in",
            data={"email": ELLA, "password": DEMO_PASSWORD, "_csrf_token": csrf(client)},
            follow_redirects=False,
        )
        if response.status_code == 303:
            assert "Employment tribunal claim" in client.get("/dashboard").text
        return response.status_code


def test_embedded_demo_people_sign_in_with_the_demo_password_set_once(tmp_path: Path) -> None:
    container = container_on_fakes(settings_for(tmp_path, demo_data="true"))

    first = load_demo_data(container)
    again = load_demo_data(container)

    assert first.passwords == len(PEOPLE)
    assert again.passwords == 0
    assert sign_in_as_ella(create_app(container)) == 303
    banner = _serve_banner(container.settings)
    assert ELLA in banner
    assert DEMO_PASSWORD in banner


def test_production_never_gets_the_demo_password(tmp_path: Path) -> None:
    embedded = container_on_fakes(settings_for(tmp_path, demo_data="true"))
    production = evolve(
        embedded, settings=evolve(embedded.settings, environment=Environment.PRODUCTION)
    )

    loaded = load_demo_data(production)

    assert loaded.users == len(PEOPLE)
    assert loaded.passwords == 0
    assert sign_in_as_ella(create_app(embedded)) == 400
    assert DEMO_PASSWORD not in _serve_banner(production.settings)
