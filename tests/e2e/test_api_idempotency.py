"""Idempotency keys on creates: one effect per key, the stored response replayed, another body
refused, keys scoped per organisation, parallel retries on real storage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from adapters.sql import SqlStorage
from portal_core.ports import CaseQuery
from tests.e2e.api_support import API, World, build_world, problem
from tests.e2e.conftest import TEST_HOST

BODY = {"subject": "Year-end accounts", "description": "Please start."}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def cases_titled(world: World, subject: str, organisation_id: str | None = None) -> int:
    with world.container.uow() as work:
        found = work.cases.search(CaseQuery(text=subject, page_size=100), scope=organisation_id)
    return found.total


def test_the_same_key_and_body_give_the_same_response_and_one_case(world: World) -> None:
    headers = {**world.bearer(world.acme.client_admin), "Idempotency-Key": "k-1"}
    with world.client() as client:
        first = client.post(f"{API}/cases", json=BODY, headers=headers)
        second = client.post(f"{API}/cases", json=BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert cases_titled(world, BODY["subject"]) == 1


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(world: World) -> None:
    headers = {**world.bearer(world.acme.client_admin), "Idempotency-Key": "k-2"}
    with world.client() as client:
        client.post(f"{API}/cases", json=BODY, headers=headers)
        other = client.post(f"{API}/cases", json={**BODY, "subject": "Other"}, headers=headers)
    assert other.status_code == 422
    assert problem(other)["code"] == "idempotency_key_reused"
    assert cases_titled(world, "Other") == 0


def test_keys_are_per_organisation_and_per_route(world: World) -> None:
    with world.client() as client:
        for tenant in (world.acme, world.globex):
            headers = {**world.bearer(tenant.client_admin), "Idempotency-Key": "shared"}
            assert client.post(f"{API}/cases", json=BODY, headers=headers).status_code == 201
        acme = {**world.bearer(world.acme.client_admin), "Idempotency-Key": "shared"}
        # the same key on another route is another operation
        comment = client.post(
            f"{API}/cases/{world.acme.case_id}/comments", json={"body": "Hi"}, headers=acme
        )
        assert comment.status_code == 201
        assert "idempotent-replayed" not in comment.headers
        # the organisation's other client admins share its keys
    assert cases_titled(world, BODY["subject"], "acme") == 1
    assert cases_titled(world, BODY["subject"], "globex") == 1


def test_a_refused_create_is_not_remembered_so_a_corrected_retry_runs(world: World) -> None:
    headers = {**world.bearer(world.acme.client_admin), "Idempotency-Key": "k-3"}
    with world.client() as client:
        refused = client.post(f"{API}/cases", json={**BODY, "subject": "  "}, headers=headers)
        assert refused.status_code == 422
        retried = client.post(f"{API}/cases", json={**BODY, "subject": "  "}, headers=headers)
        assert retried.status_code == 422
        assert "idempotent-replayed" not in retried.headers
        a_key_too_long = {**headers, "Idempotency-Key": "k" * 256}
        assert client.post(f"{API}/cases", json=BODY, headers=a_key_too_long).status_code == 400


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'portal.db'}")
    storage.upgrade()
    try:
        yield build_world(tmp_path, uow=storage.unit_of_work)
    finally:
        storage.dispose()


@pytest.fixture
def postgres_world(postgres_url: str, tmp_path: Path) -> Iterator[World]:
    """A fresh PostgreSQL database of its own, migrated, dropped afterwards."""
    name = f"portal_api_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    storage = SqlStorage.from_url(url)
    try:
        storage.upgrade()
        yield build_world(tmp_path, uow=storage.unit_of_work)
    finally:
        storage.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def _fifty_at_once(world: World, headers: dict[str, str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{TEST_HOST}") as client:
        return await asyncio.gather(
            *(client.post(f"{API}/cases", json=BODY, headers=headers) for _ in range(50))
        )


@pytest.mark.parametrize("storage", ["sqlite_world", "postgres_world"])
def test_fifty_parallel_creates_with_one_key_make_one_case(
    storage: str, request: pytest.FixtureRequest
) -> None:
    world: World = request.getfixturevalue(storage)
    headers = {**world.bearer(world.acme.client_admin), "Idempotency-Key": "burst"}
    responses = asyncio.run(_fifty_at_once(world, headers))
    statuses = sorted({r.status_code for r in responses})
    assert set(statuses) <= {201, 409}, [
        r.text for r in responses if r.status_code not in {201, 409}
    ]
    created = [r for r in responses if r.status_code == 201]
    assert created, statuses
    assert len({r.content for r in created}) == 1
    assert sum(1 for r in created if "idempotent-replayed" not in r.headers) == 1
    in_flight: list[dict[str, Any]] = [problem(r) for r in responses if r.status_code == 409]
    assert all(p["code"] == "idempotency_key_in_flight" for p in in_flight)
    assert cases_titled(world, BODY["subject"]) == 1
