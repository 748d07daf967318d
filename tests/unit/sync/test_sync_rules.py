"""Changes from Salesforce: applied once, never older over newer, nothing half-written."""

from __future__ import annotations

import pytest
from attrs import evolve

from portal_core.cases.model import CaseLinked, CaseStatus, CaseSubmitted, CaseSynced, Priority
from portal_core.errors import Conflict
from portal_core.sync import SOURCE_CHANGE_EVENT, IncompleteChange, UnknownAccount
from tests.unit.sync.builders import GLOBEX_ACCOUNT, change, make_world


def test_a_new_salesforce_case_of_a_linked_account_is_imported_with_a_portal_reference() -> None:
    world = make_world()
    result = world.service.apply([change("04l1", status=CaseStatus.IN_PROGRESS)])
    assert (result.imported, result.applied) == (1, 0)
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert case.organisation_id == "acme"
    assert case.reference == "C-000001"
    assert case.number == "00001001"
    assert case.status is CaseStatus.IN_PROGRESS
    assert case.submitted_by == "system:salesforce"
    assert result.changed_case_ids == (case.id,)
    assert [type(e) for e in world.dispatched] == [CaseSubmitted, CaseLinked, CaseSynced]


def test_a_case_of_another_account_goes_to_that_accounts_organisation() -> None:
    world = make_world()
    world.service.apply([change("04l1", account_id=GLOBEX_ACCOUNT)])
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert case.organisation_id == "globex"


def test_a_duplicate_notification_is_discarded() -> None:
    world = make_world()
    world.service.apply([change("04l1")])
    again = world.service.apply([change("04l1", minutes=5, status=CaseStatus.CLOSED)])
    assert (again.duplicates, again.applied) == (1, 0)
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert case.status is CaseStatus.NEW


def test_a_duplicate_within_one_message_is_applied_once() -> None:
    world = make_world()
    result = world.service.apply([change("04l1"), change("04l1")])
    assert (result.imported, result.duplicates) == (1, 1)


def test_the_same_id_from_another_source_is_not_a_duplicate() -> None:
    world = make_world()
    world.service.apply([change("e1")])
    result = world.service.apply(
        [change("e1", minutes=1, status=CaseStatus.RESOLVED, source=SOURCE_CHANGE_EVENT)]
    )
    assert result.applied == 1


def test_an_older_salesforce_version_never_overwrites_a_newer_one() -> None:
    world = make_world()
    world.service.apply([change("04l2", minutes=10, status=CaseStatus.RESOLVED)])
    result = world.service.apply([change("04l1", minutes=5, status=CaseStatus.IN_PROGRESS)])
    assert result.stale == 1
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert case.status is CaseStatus.RESOLVED


def test_a_newer_version_is_applied_with_history_audit_and_outbox() -> None:
    world = make_world()
    world.service.apply([change("04l1")])
    outbox_before = len(world.storage.state.outbox)
    audit_before = len(world.storage.state.audit)
    result = world.service.apply(
        [change("04l2", minutes=3, status=CaseStatus.WAITING_ON_CLIENT, priority=Priority.HIGH)]
    )
    assert result.applied == 1
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert (case.status, case.priority) == (CaseStatus.WAITING_ON_CLIENT, Priority.HIGH)
    assert len(world.storage.state.outbox) == outbox_before + 1
    assert len(world.storage.state.audit) == audit_before + 1
    assert isinstance(world.storage.state.history[-1], CaseSynced)


def test_fields_a_change_does_not_carry_keep_their_values() -> None:
    world = make_world()
    world.service.apply([change("04l1")])
    world.service.apply(
        [
            change(
                "e2",
                minutes=1,
                status=CaseStatus.RESOLVED,
                subject=None,
                description=None,
                priority=None,
                number=None,
                account_id=None,
            )
        ]
    )
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert case.status is CaseStatus.RESOLVED
    assert case.subject == "Payroll question"
    assert case.description == "How do we register a new hire?"
    assert case.number == "00001001"


def test_the_echo_of_the_portals_own_write_is_not_applied_twice() -> None:
    world = make_world()
    world.service.apply([change("04l1")])
    history_before = len(world.storage.state.history)
    outbox_before = len(world.storage.state.outbox)
    world.dispatched.clear()
    result = world.service.apply([change("04l2", minutes=1)])
    assert result.unchanged == 1
    assert len(world.storage.state.history) == history_before
    assert len(world.storage.state.outbox) == outbox_before
    assert world.dispatched == []
    # The version mark moved on: a version between the two is now older than the one held.
    later = world.service.apply([change("04l3", minutes=1, status=CaseStatus.CLOSED)])
    assert later.stale == 1


def test_a_change_by_the_portals_own_user_never_moves_the_status() -> None:
    world = make_world()
    world.service.apply([change("04l1", status=CaseStatus.IN_PROGRESS)])
    # The portal moved the case on to resolved meanwhile; the echo of its earlier write arrives.
    echo = world.service.apply([change("e2", minutes=1, status=CaseStatus.NEW, from_portal=True)])
    assert echo.unchanged == 1
    mixed = world.service.apply(
        [change("e3", minutes=2, status=CaseStatus.NEW, priority=Priority.URGENT, from_portal=True)]
    )
    assert mixed.applied == 1
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert (case.status, case.priority) == (CaseStatus.IN_PROGRESS, Priority.URGENT)


def test_the_creation_echo_links_the_portals_case_instead_of_importing_a_second_one() -> None:
    world = make_world()
    portal_case = world.add_portal_case("case-1")
    result = world.service.apply([change("04l1", portal_case_id="case-1")])
    assert (result.imported, result.applied) == (0, 1)
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert case.id == portal_case.id
    assert case.number == "00001001"
    assert len(world.storage.state.cases) == 1


def test_a_case_linked_elsewhere_is_a_conflict_and_nothing_is_stored() -> None:
    world = make_world()
    world.add_portal_case("case-1")
    world.service.apply([change("04l1", portal_case_id="case-1")])
    with pytest.raises(Conflict):
        world.service.apply(
            [change("04l2", external_id="500000000000002AAA", portal_case_id="case-1")]
        )
    assert ("salesforce:outbound", "04l2") not in world.storage.state.processed_events


def test_a_case_of_an_unknown_account_refuses_the_whole_message() -> None:
    world = make_world()
    with pytest.raises(UnknownAccount, match="001000000000NOPEAA"):
        world.service.apply(
            [
                change("04l1"),
                change("04l2", external_id="500000000000002AAA", account_id="001000000000NOPEAA"),
            ]
        )
    assert world.storage.state.cases == {}
    assert world.storage.state.processed_events == {}
    assert world.storage.state.outbox == {}
    assert world.dispatched == []


def test_a_retry_after_the_account_is_onboarded_succeeds() -> None:
    world = make_world()
    message = [change("04l1", account_id="001000000000NEWWAA")]
    with pytest.raises(UnknownAccount):
        world.service.apply(message)
    with world.storage.unit_of_work() as uow:
        acme = uow.organisations.get("acme")
        assert acme is not None
        uow.organisations.update(evolve(acme, external_account_id="001000000000NEWWAA"))
        uow.commit()
    assert world.service.apply(message).imported == 1


def test_an_unknown_case_without_its_fields_asks_to_be_read_in_full() -> None:
    world = make_world()
    with pytest.raises(IncompleteChange) as raised:
        world.service.apply(
            [
                change("e1", subject=None),
                change("e2", external_id="500000000000002AAA", number=None),
            ]
        )
    assert raised.value.external_ids == ("500000000000001AAA", "500000000000002AAA")
    assert world.storage.state.processed_events == {}


def test_a_salesforce_case_without_subject_is_imported_under_its_number() -> None:
    world = make_world()
    world.service.apply([change("04l1", subject="  ")])
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert case.subject == "Case 00001001"


def test_a_new_case_without_its_account_asks_to_be_read_in_full() -> None:
    world = make_world()
    with pytest.raises(IncompleteChange):
        world.service.apply([change("e1", account_id=None)])


def test_a_case_read_in_full_without_an_account_is_of_no_client() -> None:
    world = make_world()
    whole = evolve(change("e1", account_id=None), whole_record=True)
    with pytest.raises(UnknownAccount, match="no account"):
        world.service.apply([whole])


def test_a_subject_cleared_in_salesforce_keeps_the_portals() -> None:
    world = make_world()
    world.service.apply([change("04l1")])
    result = world.service.apply([change("04l2", minutes=1, subject="", status=CaseStatus.CLOSED)])
    assert result.applied == 1
    case = world.case_by_external_id("500000000000001AAA")
    assert case is not None
    assert (case.subject, case.status) == ("Payroll question", CaseStatus.CLOSED)
