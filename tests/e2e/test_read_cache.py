"""Answers of the case list and case detail are kept until the next commit, by any process:
never stale, never shared across organisations or roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.bootstrap import Container, bootstrap
from entrypoints.demo import AKMI, DEMO_PASSWORD, NORTHWIND, load_demo_data
from entrypoints.settings import Settings
from entrypoints.web.app import create_app
from entrypoints.web.auth import session_cookie_name
from portal_core.cases.model import CaseStatus
from portal_core.cases.service import ChangeStatus
from portal_core.ports import CaseQuery
from tests.e2e.conftest import TEST_HOST, settings_for

ELLA = "ella.hart@northwind.example"  # a client contact of Northwind
GEORGIOS = "g.papadopoulos@akmi.example"  # a client contact of Akmi
PRIYA = "priya.shah@harbourlane.example"  # staff


class Counted:
    """Counts the calls of one method of an object, passing them on."""

    def __init__(self, target: object, name: str) -> None:
        self.calls = 0
        method: Callable[..., Any] = getattr(target, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return method(*args, **kwargs)

        setattr(target, name, counted)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, demo_data="true")


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[Container, TestClient[Any]]]:
    container = bootstrap(settings)
    container.prepare_storage()
    load_demo_data(container)
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as client:
        yield container, client


@pytest.fixture
def elsewhere(settings: Settings) -> Iterator[Container]:
    """Another process of the same portal: its own connections to the same database."""
    other = bootstrap(settings)
    yield other
    other.close()


def signed_in(container: Container, *emails: str) -> list[str]:
    """Session tokens, all made before any request: signing in commits, which would empty the
    kept answers and hide a key shared across people."""
    return [
        container.sign_in.sign_in(email, DEMO_PASSWORD, client_address="127.0.0.1").token
        for email in emails
    ]


def as_person(client: TestClient[Any], container: Container, token: str) -> None:
    client.cookies.set(session_cookie_name(container.settings), token)


def test_the_same_list_is_read_once_until_something_commits(
    served: tuple[Container, TestClient[Any]], elsewhere: Container
) -> None:
    container, client = served
    (ella,) = signed_in(container, ELLA)
    as_person(client, container, ella)
    listing = Counted(container.cases, "list_cases")

    first = client.get("/api/v1/cases")
    again = client.get("/api/v1/cases")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert listing.calls == 1

    # Staff move a case on in another process: the next answer is read afresh and shows it.
    staff = elsewhere.sign_in.sign_in(PRIYA, DEMO_PASSWORD, client_address="127.0.0.1").principal
    moves = {"new": CaseStatus.IN_PROGRESS, "in_progress": CaseStatus.WAITING_ON_CLIENT}
    newest = next(item for item in first.json()["items"] if item["status"] in moves)
    target = moves[newest["status"]]
    elsewhere.cases.change_status(staff, ChangeStatus(case_id=newest["id"], status=target))

    after = client.get("/api/v1/cases")
    assert listing.calls == 2
    changed = next(item for item in after.json()["items"] if item["id"] == newest["id"])
    assert changed["status"] == target.value
    assert changed["version"] == newest["version"] + 1


def test_a_kept_list_is_never_shown_to_another_organisation(
    served: tuple[Container, TestClient[Any]],
) -> None:
    container, client = served
    ella, georgios = signed_in(container, ELLA, GEORGIOS)
    as_person(client, container, ella)
    northwind = client.get("/api/v1/cases").json()
    as_person(client, container, georgios)
    akmi = client.get("/api/v1/cases").json()

    assert {c["organisation_id"] for c in northwind["items"]} == {NORTHWIND}
    assert {c["organisation_id"] for c in akmi["items"]} == {AKMI}
    with container.uow(read_only=True) as uow:
        assert akmi["total"] == uow.cases.search(CaseQuery(), scope=AKMI).total


def test_staff_and_clients_never_share_a_kept_case(
    served: tuple[Container, TestClient[Any]],
) -> None:
    container, client = served
    priya, ella = signed_in(container, PRIYA, ELLA)
    as_person(client, container, priya)
    staff_view = client.get(f"/api/v1/cases?organisation_id={NORTHWIND}").json()["items"]
    with_notes = [client.get(f"/api/v1/cases/{case['id']}").json() for case in staff_view]
    as_person(client, container, ella)
    for staff_detail in with_notes:
        client_detail = client.get(f"/api/v1/cases/{staff_detail['case']['id']}").json()
        assert all(entry["visibility"] == "public" for entry in client_detail["timeline"])
    # The demo data holds internal notes, so the test would see a shared answer.
    assert any(
        entry["visibility"] == "internal" for detail in with_notes for entry in detail["timeline"]
    )
