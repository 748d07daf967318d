"""Demo data: loaded through the core's use cases, complete, consistent and idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.demo import CASES, ORGANISATIONS, PEOPLE, load_demo_data
from entrypoints.settings import Settings
from portal_core.audit import first_broken_entry
from portal_core.cases.model import CaseStatus, CommentAdded, Visibility
from portal_core.organisations.model import CLIENT_ROLES, Role
from portal_core.ports import CaseQuery


@pytest.fixture
def container() -> Container:
    settings = Settings.from_env({"PORTAL_SECRET_KEY": "k" * 48}, cwd=Path("/srv/portal"))
    clock = FixedClock()
    return bootstrap(
        settings,
        clock=clock,
        ids=SequentialIds(),
        uow=InMemoryStorage().unit_of_work,
        files=InMemoryFileStore(clock),
    )


def test_demo_data_has_two_clients_with_every_client_role_and_the_firms_staff(
    container: Container,
) -> None:
    added = load_demo_data(container)

    assert (added.organisations, added.users, added.cases) == (2, len(PEOPLE), len(CASES))
    with container.uow() as uow:
        names = {o.name for o in uow.organisations.list()}
        assert names == set(ORGANISATIONS.values())
        for organisation_id in ORGANISATIONS:
            roles = {r for u in uow.users.for_organisation(organisation_id) for r in u.roles}
            assert roles == CLIENT_ROLES
        assert uow.users.with_role(Role.STAFF)
        assert uow.users.with_role(Role.ADMIN)


def test_demo_cases_cover_every_status_with_public_replies_and_an_internal_note(
    container: Container,
) -> None:
    load_demo_data(container)

    with container.uow() as uow:
        cases = uow.cases.search(CaseQuery(page_size=100), scope=None).items
        history = [event for case in cases for event in uow.history.for_case(case.id)]
        audit = list(uow.audit.entries())
    assert {case.status for case in cases} == set(CaseStatus)
    comments = [event for event in history if isinstance(event, CommentAdded)]
    assert any(c.visibility is Visibility.PUBLIC for c in comments)
    assert any(c.visibility is Visibility.INTERNAL for c in comments)
    assert all(case.updated_at <= container.clock.now() for case in cases)
    # Replayed in time order: the audit trail reads chronologically and its chain holds.
    assert [e.record.at for e in audit] == sorted(e.record.at for e in audit)
    assert first_broken_entry(audit) is None


def test_loading_the_demo_data_twice_adds_nothing(container: Container) -> None:
    load_demo_data(container)
    with container.uow() as uow:
        audit_before = len(list(uow.audit.entries()))

    again = load_demo_data(container)

    assert (again.organisations, again.users, again.cases) == (0, 0, 0)
    with container.uow() as uow:
        assert len(list(uow.audit.entries())) == audit_before
        assert uow.cases.search(CaseQuery(page_size=100), scope=None).total == len(CASES)


def test_clients_never_see_the_demo_internal_notes(container: Container) -> None:
    load_demo_data(container)
    client = next(p for p in PEOPLE if p.role is Role.CLIENT_ADMIN)
    with container.uow() as uow:
        principal = uow.users.get(client.id).as_principal()  # type: ignore[union-attr]

    visible = container.cases.list_cases(principal, CaseQuery(page_size=100)).items
    timelines = [container.cases.get_case(principal, case.id).timeline for case in visible]

    assert visible
    assert all(case.organisation_id == client.organisation_id for case in visible)
    assert all(e.visibility is Visibility.PUBLIC for timeline in timelines for e in timeline)
