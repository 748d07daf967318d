"""The system of record's values reach the case, but an older version never overwrites a newer."""

from __future__ import annotations

from datetime import timedelta

from portal_core.cases.model import Case, CaseStatus, Priority, timeline
from tests.unit.cases.builders import START


def submitted() -> Case:
    case, _ = Case.submit(
        case_id="c1",
        organisation_id="acme",
        reference="C-000001",
        subject="Payroll question",
        description="",
        priority=Priority.NORMAL,
        submitted_by="ann",
        event_id="e1",
        at=START,
    )
    return case


def sync(case: Case, status: CaseStatus, modified_minutes: int, event_id: str) -> Case | None:
    result = case.sync_from(
        status=status,
        subject=case.subject,
        description=case.description,
        priority=case.priority,
        external_number="00001026",
        external_modified_at=START + timedelta(minutes=modified_minutes),
        actor_id="system:salesforce",
        event_id=event_id,
        at=START + timedelta(hours=1),
    )
    return None if result is None else result[0]


def test_the_system_of_record_may_move_a_case_past_the_portals_status_machine() -> None:
    closed = sync(submitted(), CaseStatus.CLOSED, 5, "e2")
    assert closed is not None
    assert closed.status is CaseStatus.CLOSED
    assert closed.closed_at is not None
    reopened = sync(closed, CaseStatus.NEW, 6, "e3")
    assert reopened is not None
    assert reopened.status is CaseStatus.NEW
    assert reopened.closed_at is None


def test_an_older_salesforce_version_never_overwrites_a_newer_one() -> None:
    newer = sync(submitted(), CaseStatus.RESOLVED, 10, "e2")
    assert newer is not None
    assert sync(newer, CaseStatus.IN_PROGRESS, 9, "e3") is None
    assert sync(newer, CaseStatus.IN_PROGRESS, 10, "e4") is None


def test_a_synced_status_change_shows_on_the_clients_timeline() -> None:
    case = submitted()
    result = case.sync_from(
        status=CaseStatus.IN_PROGRESS,
        subject=case.subject,
        description=case.description,
        priority=case.priority,
        external_number="00001026",
        external_modified_at=START,
        actor_id="system:salesforce",
        event_id="e2",
        at=START,
    )
    assert result is not None
    _, event = result
    [entry] = timeline([event], include_internal=False)
    assert entry.text == "Status changed from new to in progress"
