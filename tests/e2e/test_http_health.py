"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from entrypoints.web import create_app
from tests.e2e.conftest import TEST_HOST, UnreachableStorage, container_on_fakes, settings_for


def test_liveness_answers_ok(client: TestClient[Litestar]) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_the_storage_answers(client: TestClient[Litestar]) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"storage": "ok"}}
    assert response.headers["cache-control"] == "no-store"


def test_not_ready_while_the_storage_fails_and_the_cause_stays_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    container = container_on_fakes(settings_for(tmp_path), uow=UnreachableStorage())

    with (
        caplog.at_level(logging.ERROR),
        TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as client,
    ):
        response = client.get("/readyz")
        alive = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"storage": "failing"}}
    assert "hunter2" not in response.text
    assert "could not connect" in caplog.text
    assert alive.status_code == 200, "a storage outage does not make the process look dead"
