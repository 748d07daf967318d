from __future__ import annotations

from portal_core.ports import UnitOfWorkFactory


def test_each_series_counts_from_one(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        assert [work.counters.next_value("INV-2026") for _ in range(3)] == [1, 2, 3]
        assert work.counters.next_value("CN-2026") == 1
        work.commit()
    with uow() as work:
        assert work.counters.next_value("INV-2026") == 4


def test_a_rolled_back_number_is_given_again(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        assert work.counters.next_value("INV-2026") == 1
        work.commit()
    with uow() as work:
        assert work.counters.next_value("INV-2026") == 2
        work.rollback()
        assert work.counters.next_value("INV-2026") == 2
    with uow() as work:
        assert work.counters.next_value("INV-2026") == 2
