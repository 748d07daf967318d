"""All or nothing: a change, its audit entry, its outbox message and its idempotency record."""

from __future__ import annotations

import pytest

from portal_core.ports import OutboxMessage, UnitOfWorkFactory

from .factories import at, audit_record, organisation, submitted_case


def _submit_everything(work: object) -> None:
    case, submitted = submitted_case("c-1")
    work.organisations.add(organisation("org-1"))  # type: ignore[attr-defined]
    work.cases.add(case)  # type: ignore[attr-defined]
    work.history.append(submitted)  # type: ignore[attr-defined]
    work.audit.append(audit_record("a-1"))  # type: ignore[attr-defined]
    work.outbox.add(  # type: ignore[attr-defined]
        OutboxMessage(id="m-1", event=submitted, created_at=at(0), available_at=at(0))
    )
    work.processed_events.record("portal", "submit-1", at=at(0))  # type: ignore[attr-defined]
    work.counters.next_value("REF")  # type: ignore[attr-defined]


def _nothing_stored(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        assert work.organisations.list() == []
        assert work.cases.get("c-1") is None
        assert work.history.for_case("c-1") == []
        assert list(work.audit.entries()) == []
        assert work.outbox.pending_count() == 0
        assert work.processed_events.record("portal", "submit-1", at=at(1)) is True
        assert work.counters.next_value("REF") == 1


def test_leaving_without_commit_stores_nothing(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        _submit_everything(work)
    _nothing_stored(uow)


def test_an_error_inside_the_unit_of_work_stores_nothing(uow: UnitOfWorkFactory) -> None:
    class Boom(Exception):
        pass

    try:
        with uow() as work:
            _submit_everything(work)
            raise Boom
    except Boom:
        pass
    _nothing_stored(uow)


def test_rollback_discards_only_what_was_not_committed(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.commit()
        work.organisations.add(organisation("org-2"))
        work.rollback()
        work.organisations.add(organisation("org-3"))
        work.commit()
    with uow() as work:
        assert [o.id for o in work.organisations.list()] == ["org-1", "org-3"]


def test_a_committed_unit_of_work_stores_everything(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        _submit_everything(work)
        work.commit()
    with uow() as work:
        assert work.cases.get("c-1") is not None
        assert len(work.history.for_case("c-1")) == 1
        assert [e.record for e in work.audit.entries()] == [audit_record("a-1")]
        assert work.outbox.pending_count() == 1
        assert work.processed_events.record("portal", "submit-1", at=at(1)) is False
        assert work.counters.next_value("REF") == 2


def test_a_read_only_unit_of_work_reads_what_was_committed_and_cannot_commit(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.commit()
    with uow(read_only=True) as reading:
        assert [o.id for o in reading.organisations.list()] == ["org-1"]
        reading.organisations.add(organisation("org-2"))
        with pytest.raises(RuntimeError, match="read-only"):
            reading.commit()
    with uow() as work:
        assert [o.id for o in work.organisations.list()] == ["org-1"]
