"""Every response carries the security headers, whatever produced it."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from entrypoints.web import create_app
from tests.e2e.conftest import SECRET, TEST_HOST, container_on_fakes, settings_for

PATHS = ["/", "/healthz", "/readyz", "/static/portal.css", "/no/such/page", "/api/v1/schema"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(
    client: TestClient[Litestar], path: str
) -> None:
    headers = client.get(path).headers

    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_pages_allow_no_script_from_elsewhere(client: TestClient[Litestar]) -> None:
    policy = client.get("/").headers["content-security-policy"]

    assert policy.startswith("default-src 'self';")
    assert "https:" not in policy
    assert "unsafe-inline" not in policy


def test_no_hsts_on_the_plain_http_embedded_default(client: TestClient[Litestar]) -> None:
    assert "strict-transport-security" not in client.get("/").headers


def test_production_responses_demand_https(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        environment="production",
        base_url="https://portal.example.com",
        secret_key=SECRET,
    )
    app = create_app(container_on_fakes(settings))

    with TestClient(app, base_url=f"https://{TEST_HOST}") as client:
        for path in ("/", "/no/such/page"):
            hsts = client.get(path).headers["strict-transport-security"]
            assert hsts.startswith("max-age=63072000")
