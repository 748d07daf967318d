from __future__ import annotations

import pytest

from portal_core.cases.model import Case, CaseStatus, Visibility
from portal_core.errors import Conflict
from portal_core.ports import UnitOfWorkFactory

from .factories import at, attachment, organisation, submitted_case


def test_a_case_rebuilds_from_its_stored_history(uow: UnitOfWorkFactory) -> None:
    case, submitted = submitted_case("c-1")
    events = [submitted]
    case, event = case.change_status(
        CaseStatus.IN_PROGRESS, by_staff=True, actor_id="s-1", event_id="e-2", at=at(1)
    )
    events.append(event)
    case, event = case.add_comment(
        "Internal: check the contract",
        visibility=Visibility.INTERNAL,
        comment_id="cm-1",
        actor_id="s-1",
        event_id="e-3",
        at=at(2),
    )
    events.append(event)
    case, event = case.add_attachment(
        attachment("a-1", "c-1"), actor_id="u-1", event_id="e-4", at=at(3)
    )
    events.append(event)
    case, event = case.link(
        external_id="500X", external_number="00042", actor_id="sync", event_id="e-5", at=at(4)
    )
    events.append(event)
    synced = case.sync_from(
        status=CaseStatus.RESOLVED,
        subject="Synced subject",
        description="From Salesforce",
        priority=case.priority,
        external_number="00042",
        external_modified_at=at(5),
        actor_id="sync",
        event_id="e-6",
        at=at(6),
    )
    assert synced is not None
    case, event = synced
    events.append(event)
    case, event = case.assign(
        None if case.assignee_id else "s-1", actor_id="s-1", event_id="e-7", at=at(7)
    )
    events.append(event)

    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.cases.add(case)
        for stored in events:
            work.history.append(stored)
        work.commit()
    with uow() as work:
        history = work.history.for_case("c-1")
    assert list(history) == events
    assert Case.from_history(history) == case


def test_an_event_is_recorded_once(uow: UnitOfWorkFactory) -> None:
    case, submitted = submitted_case("c-1")
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.cases.add(case)
        work.history.append(submitted)
        with pytest.raises(Conflict):
            work.history.append(submitted)
        work.commit()
    with uow() as work:
        assert len(work.history.for_case("c-1")) == 1


def test_recent_activity_is_newest_first_and_scoped(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.organisations.add(organisation("org-2"))
        for number, organisation_id in enumerate(["org-1", "org-2", "org-1", "org-1"], start=1):
            case, submitted = submitted_case(f"c-{number}", organisation_id, minute=number)
            work.cases.add(case)
            work.history.append(submitted)
        work.commit()
    with uow() as work:
        everyone = [e.event_id for e in work.history.recent(scope=None, limit=3)]
        first_client = [e.event_id for e in work.history.recent(scope="org-1", limit=10)]
    assert everyone == ["evt-c-4", "evt-c-3", "evt-c-2"]
    assert first_client == ["evt-c-4", "evt-c-3", "evt-c-1"]
    with uow() as work:
        assert work.history.for_case("c-9") == []
