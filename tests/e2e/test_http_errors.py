"""Errors reach clients as RFC 9457 problem details, and never with a trace."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient

from entrypoints.web import create_app
from portal_core.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for

DOMAIN_ERRORS: dict[str, tuple[type[DomainError], int]] = {
    "not-found": (NotFound, 404),
    "permission-denied": (PermissionDenied, 403),
    "invalid-input": (InvalidInput, 422),
    "invalid-transition": (InvalidTransition, 409),
    "concurrency-conflict": (ConcurrencyConflict, 409),
    "conflict": (Conflict, 409),
}


@get("/raise/{name:str}", sync_to_thread=False)
def raise_domain_error(name: FromPath[str]) -> None:
    error, _ = DOMAIN_ERRORS[name]
    raise error(f"The rule behind {name} says no.")


@get("/crash", sync_to_thread=False)
def crash() -> None:
    raise RuntimeError(
        'psycopg.errors.UndefinedTable: relation "cases" does not exist '
        "at /srv/portal/src/adapters/sql/repositories.py line 12"
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    app = create_app(
        container_on_fakes(settings_for(tmp_path)), route_handlers=[raise_domain_error, crash]
    )
    with TestClient(app, base_url=f"http://{TEST_HOST}", raise_server_exceptions=False) as client:
        yield client


def test_unknown_route_is_a_problem_document(client: TestClient[Litestar]) -> None:
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
    }


def test_wrong_method_is_a_problem_document(client: TestClient[Litestar]) -> None:
    response = client.delete("/healthz")

    assert response.status_code == 405
    assert response.json()["title"] == "Method Not Allowed"


@pytest.mark.parametrize(("name", "expected"), [(n, s) for n, (_, s) in DOMAIN_ERRORS.items()])
def test_each_domain_error_has_one_status(
    client: TestClient[Litestar], name: str, expected: int
) -> None:
    error, _ = DOMAIN_ERRORS[name]

    response = client.get(f"/raise/{name}")

    assert response.status_code == expected
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == expected
    assert problem["type"] == f"urn:client-portal:problem:{error.code}"
    assert problem["code"] == error.code
    assert problem["detail"] == f"The rule behind {name} says no."
    assert problem["title"]


def test_unexpected_error_shows_a_correlation_id_and_no_trace(
    client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get("/crash")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "correlation_id"}
    for leak in ("psycopg", 'relation "cases"', "/srv/portal", "Traceback", "RuntimeError"):
        assert leak not in response.text
    correlation_id = problem["correlation_id"]
    assert response.headers["x-correlation-id"] == correlation_id
    # Support finds the cause in the log by the id the client quotes.
    logged = [r for r in caplog.records if correlation_id in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert "UndefinedTable" in str(logged[0].exc_info[1])


def test_request_for_an_unknown_host_is_refused(client: TestClient[Litestar]) -> None:
    response = client.get("/", headers={"Host": "portal.attacker.example"})

    assert response.status_code == 400
