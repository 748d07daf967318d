from __future__ import annotations

from portal_core.ports import UnitOfWorkFactory

from .factories import at


def test_an_event_is_recorded_as_processed_once_per_source(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        assert work.processed_events.record("salesforce", "n-1", at=at(0)) is True
        assert work.processed_events.record("salesforce", "n-1", at=at(1)) is False
        assert work.processed_events.record("stripe", "n-1", at=at(1)) is True
        # a duplicate does not spoil the transaction it happens in
        work.organisations.list()
        work.commit()
    with uow() as work:
        assert work.processed_events.record("salesforce", "n-1", at=at(2)) is False
        assert work.processed_events.record("salesforce", "n-2", at=at(2)) is True


def test_a_rolled_back_record_lets_the_event_be_processed_again(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        assert work.processed_events.record("salesforce", "n-1", at=at(0)) is True
    with uow() as work:
        assert work.processed_events.record("salesforce", "n-1", at=at(1)) is True
