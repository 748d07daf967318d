from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from attrs import evolve

from portal_core.audit import GENESIS_HASH, first_broken_entry
from portal_core.errors import Conflict
from portal_core.ports import UnitOfWorkFactory

from .factories import audit_record


def test_entries_chain_across_units_of_work(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        first = work.audit.append(audit_record("a-1"))
        second = work.audit.append(audit_record("a-2", minute=1))
        work.commit()
    with uow() as work:
        third = work.audit.append(audit_record("a-3", minute=2))
        work.commit()
    assert (first.sequence, first.previous_hash) == (1, GENESIS_HASH)
    assert (second.sequence, second.previous_hash) == (2, first.hash)
    assert (third.sequence, third.previous_hash) == (3, second.hash)
    with uow() as work:
        stored = list(work.audit.entries())
        assert stored == [first, second, third]
        assert first_broken_entry(stored) is None
        assert list(work.audit.entries(after_sequence=2)) == [third]


def test_a_rolled_back_entry_leaves_no_gap_in_the_chain(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.audit.append(audit_record("a-1"))
        work.commit()
    with uow() as work:
        work.audit.append(audit_record("a-2"))
        work.rollback()
        kept = work.audit.append(audit_record("a-3"))
        work.commit()
    assert kept.sequence == 2
    with uow() as work:
        assert first_broken_entry(work.audit.entries()) is None


def test_an_entry_id_is_recorded_once(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.audit.append(audit_record("a-1"))
        with pytest.raises(Conflict):
            work.audit.append(audit_record("a-1"))
        work.commit()
    with uow() as work:
        assert [e.record.id for e in work.audit.entries()] == ["a-1"]


def test_a_time_from_another_zone_still_verifies(uow: UnitOfWorkFactory) -> None:
    record = audit_record("a-1")
    elsewhere = evolve(record, at=record.at.astimezone(timezone(timedelta(hours=2))))
    with uow() as work:
        work.audit.append(elsewhere)
        work.commit()
    with uow() as work:
        (stored,) = work.audit.entries()
    assert stored.record.at == record.at
    assert first_broken_entry([stored]) is None


def test_many_entries_stream_in_order(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        for number in range(1, 521):
            work.audit.append(audit_record(f"a-{number}"))
        work.commit()
    with uow() as work:
        sequences = [e.sequence for e in work.audit.entries(after_sequence=100)]
        assert sequences == list(range(101, 521))
        assert first_broken_entry(work.audit.entries()) is None
