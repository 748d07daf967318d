"""The batch writes and reads an inbound message uses: the same rules as one at a time.

After a batch method raises, the unit of work is not used any further (the caller rolls back):
on PostgreSQL a failed batch write ends the transaction.
"""

from __future__ import annotations

import pytest
from attrs import evolve

from portal_core.audit import GENESIS_HASH, first_broken_entry
from portal_core.cases.model import Case, CaseStatus, CaseStatusChanged
from portal_core.errors import ConcurrencyConflict, Conflict, NotFound
from portal_core.ports import OutboxMessage, UnitOfWorkFactory

from .factories import at, audit_record, organisation, submitted_case


def linked_case(case_id: str, external_id: str) -> Case:
    case, _ = submitted_case(case_id)
    linked, _ = case.link(
        external_id=external_id,
        external_number=f"N-{case_id}",
        actor_id="sync",
        event_id=f"link-{case_id}",
        at=at(1),
    )
    return linked


def status_changed(event_id: str, case_id: str = "c-1", *, minute: int = 0) -> CaseStatusChanged:
    return CaseStatusChanged(
        event_id=event_id,
        occurred_at=at(minute),
        organisation_id="org-1",
        actor_id="sync",
        case_id=case_id,
        old_status=CaseStatus.NEW,
        new_status=CaseStatus.IN_PROGRESS,
    )


def outbox_message(message_id: str, *, minute: int = 0) -> OutboxMessage:
    return OutboxMessage(
        id=message_id,
        event=status_changed(f"evt-{message_id}", minute=minute),
        created_at=at(minute),
        available_at=at(minute),
    )


def with_cases(uow: UnitOfWorkFactory, *cases: Case) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        for case in cases:
            work.cases.add(case)
        work.commit()


# --- processed events ---------------------------------------------------------------------------


def test_recording_many_events_says_which_were_new(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.processed_events.record("salesforce", "n-2", at=at(0))
        work.commit()
    with uow() as work:
        new = work.processed_events.record_many(
            [("salesforce", "n-1"), ("salesforce", "n-2"), ("stripe", "n-2")], at=at(1)
        )
        work.commit()
    assert new == {("salesforce", "n-1"), ("stripe", "n-2")}
    with uow() as work:
        assert work.processed_events.record("salesforce", "n-1", at=at(2)) is False


def test_an_event_named_twice_in_one_batch_is_new_once(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        new = work.processed_events.record_many(
            [("salesforce", "n-1"), ("salesforce", "n-1")], at=at(0)
        )
        work.commit()
    assert new == {("salesforce", "n-1")}


def test_a_rolled_back_batch_of_events_can_be_recorded_again(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.processed_events.record_many([("salesforce", "n-1")], at=at(0))
    with uow() as work:
        assert work.processed_events.record_many([("salesforce", "n-1")], at=at(1)) == {
            ("salesforce", "n-1")
        }


def test_a_full_message_of_events_is_recorded_in_one_batch(uow: UnitOfWorkFactory) -> None:
    keys = [("salesforce", f"n-{n:03d}") for n in range(100)]
    with uow() as work:
        work.processed_events.record_many(keys[::2], at=at(0))
        work.commit()
    with uow() as work:
        new = work.processed_events.record_many(keys, at=at(1))
        work.commit()
    assert new == frozenset(keys[1::2])


def test_an_empty_batch_of_events_records_nothing(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        assert work.processed_events.record_many([], at=at(0)) == frozenset()


# --- cases --------------------------------------------------------------------------------------


def test_cases_are_read_by_many_external_ids_at_once(uow: UnitOfWorkFactory) -> None:
    first, second = linked_case("c-1", "500A"), linked_case("c-2", "500B")
    unlinked, _ = submitted_case("c-3")
    with_cases(uow, first, second, unlinked)
    with uow() as work:
        found = work.cases.by_external_ids({"500A", "500B", "500-unknown"})
        assert work.cases.by_external_ids([]) == {}
    assert dict(found) == {"500A": first, "500B": second}


def test_many_cases_are_updated_each_against_its_version(uow: UnitOfWorkFactory) -> None:
    first, second = linked_case("c-1", "500A"), linked_case("c-2", "500B")
    with_cases(uow, first, second)
    changed = [
        (evolve(first, subject="First, renamed", version=first.version + 1), first.version),
        (evolve(second, subject="Second, renamed", version=second.version + 1), second.version),
    ]
    with uow() as work:
        work.cases.update_many(changed)
        work.cases.update_many([])
        work.commit()
    with uow() as work:
        assert work.cases.get("c-1") == changed[0][0]
        assert work.cases.get("c-2") == changed[1][0]


def test_a_batch_with_one_stale_case_is_refused_whole(uow: UnitOfWorkFactory) -> None:
    first, second = linked_case("c-1", "500A"), linked_case("c-2", "500B")
    with_cases(uow, first, second)
    with uow() as work, pytest.raises(ConcurrencyConflict):
        work.cases.update_many(
            [
                (evolve(first, subject="Renamed", version=first.version + 1), first.version),
                (evolve(second, subject="Stale", version=second.version), second.version - 1),
            ]
        )
    with uow() as work:
        assert work.cases.get("c-1") == first
        assert work.cases.get("c-2") == second


def test_a_batch_naming_a_missing_case_is_refused(uow: UnitOfWorkFactory) -> None:
    first = linked_case("c-1", "500A")
    with_cases(uow, first)
    ghost = linked_case("c-9", "500Z")
    with uow() as work, pytest.raises(NotFound):
        work.cases.update_many([(ghost, ghost.version)])


# --- history, audit and outbox ------------------------------------------------------------------


def test_many_events_append_to_the_history_in_order(uow: UnitOfWorkFactory) -> None:
    case, submitted = submitted_case("c-1")
    with_cases(uow, case)
    events = [submitted, status_changed("e-2", minute=1), status_changed("e-3", minute=2)]
    with uow() as work:
        work.history.append_many(events)
        work.history.append_many([])
        work.commit()
    with uow() as work:
        assert list(work.history.for_case("c-1")) == events


def test_a_history_batch_repeating_an_event_is_refused_whole(uow: UnitOfWorkFactory) -> None:
    case, submitted = submitted_case("c-1")
    with_cases(uow, case)
    with uow() as work, pytest.raises(Conflict):
        work.history.append_many([submitted, status_changed("e-2"), submitted])
    with uow() as work:
        assert list(work.history.for_case("c-1")) == []


def test_a_batch_of_audit_records_continues_the_chain(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        first = work.audit.append(audit_record("a-1"))
        work.commit()
    with uow() as work:
        sealed = work.audit.append_many(
            [audit_record("a-2", minute=1), audit_record("a-3", minute=2)]
        )
        assert work.audit.append_many([]) == []
        work.commit()
    with uow() as work:
        after = work.audit.append(audit_record("a-4", minute=3))
        work.commit()
    assert [s.sequence for s in sealed] == [2, 3]
    assert sealed[0].previous_hash == first.hash
    assert after.previous_hash == sealed[1].hash
    with uow() as work:
        stored = list(work.audit.entries())
    assert stored == [first, *sealed, after]
    assert first_broken_entry(stored) is None


def test_the_first_audit_batch_starts_the_chain(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        sealed = work.audit.append_many([audit_record("a-1")])
        work.commit()
    assert (sealed[0].sequence, sealed[0].previous_hash) == (1, GENESIS_HASH)


def test_an_audit_batch_repeating_an_entry_leaves_the_chain_as_it_was(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as work:
        first = work.audit.append(audit_record("a-1"))
        work.commit()
    with uow() as work, pytest.raises(Conflict):
        work.audit.append_many([audit_record("a-2"), audit_record("a-1")])
    with uow() as work:
        assert list(work.audit.entries()) == [first]
        kept = work.audit.append(audit_record("a-2"))
        work.commit()
    assert kept.sequence == 2


def test_many_outbox_messages_are_added_at_once(uow: UnitOfWorkFactory) -> None:
    messages = [outbox_message("m-1"), outbox_message("m-2", minute=1)]
    with uow() as work:
        work.outbox.add_many(messages)
        work.outbox.add_many([])
        work.commit()
    with uow() as work:
        assert work.outbox.pending_count() == 2
        claimed = work.outbox.claim(limit=10, now=at(5), lease=at(6) - at(5))
    assert [m.event for m in claimed] == [m.event for m in messages]


def test_an_outbox_batch_with_a_known_message_is_refused_whole(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.outbox.add(outbox_message("m-1"))
        work.commit()
    with uow() as work, pytest.raises(Conflict):
        work.outbox.add_many([outbox_message("m-2"), outbox_message("m-1")])
    with uow() as work:
        assert work.outbox.pending_count() == 1


def test_a_hundred_events_keep_the_order_given_not_the_order_of_their_ids(
    uow: UnitOfWorkFactory,
) -> None:
    case, _ = submitted_case("c-1")
    with_cases(uow, case)
    # Ids that sort the other way round: the history follows the order of the batch.
    events = [status_changed(f"e-{999 - n}", minute=n) for n in range(100)]
    with uow() as work:
        work.history.append_many(events)
        work.commit()
    with uow() as work:
        assert list(work.history.for_case("c-1")) == events
