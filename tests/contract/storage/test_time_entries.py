from __future__ import annotations

from datetime import date

import pytest
from attrs import evolve

from portal_core.errors import ConcurrencyConflict, Conflict, NotFound
from portal_core.ports import UnitOfWorkFactory

from .billing_factories import time_entry
from .factories import case, organisation


def _with_cases(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.organisations.add(organisation("org-2"))
        work.cases.add(case("c-1"))
        work.cases.add(case("c-2"))
        work.cases.add(case("c-3", "org-2"))
        work.commit()


def test_an_entry_reads_back_and_its_id_is_unique(uow: UnitOfWorkFactory) -> None:
    _with_cases(uow)
    entry = evolve(time_entry("t-1"), billable=False)
    with uow() as work:
        work.time_entries.add(entry)
        with pytest.raises(Conflict):
            work.time_entries.add(entry)
        work.commit()
    with uow() as work:
        assert work.time_entries.get("t-1") == entry
        assert work.time_entries.get("t-9") is None


def test_an_edit_keeps_the_invoice_and_refuses_a_stale_version(uow: UnitOfWorkFactory) -> None:
    _with_cases(uow)
    with uow() as work:
        work.time_entries.add(time_entry("t-1"))
        work.time_entries.attach(["t-1"], "inv-1")
        edited = evolve(time_entry("t-1"), minutes=75, description="Longer", version=2)
        work.time_entries.update(edited, expected_version=1)
        with pytest.raises(ConcurrencyConflict):
            work.time_entries.update(evolve(edited, minutes=5, version=3), expected_version=1)
        with pytest.raises(NotFound):
            work.time_entries.update(time_entry("t-9"), expected_version=1)
        work.commit()
    with uow() as work:
        assert work.time_entries.get("t-1") == evolve(edited, invoice_id="inv-1")


def test_an_entry_is_deleted_only_at_the_version_read(uow: UnitOfWorkFactory) -> None:
    _with_cases(uow)
    with uow() as work:
        work.time_entries.add(time_entry("t-1"))
        with pytest.raises(ConcurrencyConflict):
            work.time_entries.delete("t-1", expected_version=2)
        work.time_entries.delete("t-1", expected_version=1)
        with pytest.raises(NotFound):
            work.time_entries.delete("t-1", expected_version=1)
        work.commit()
    with uow() as work:
        assert work.time_entries.get("t-1") is None


def test_unbilled_time_is_listed_by_date_then_logging_time(uow: UnitOfWorkFactory) -> None:
    _with_cases(uow)
    with uow() as work:
        work.time_entries.add(time_entry("t-late", day=9))
        work.time_entries.add(time_entry("t-b", day=2, minute=5))
        work.time_entries.add(time_entry("t-a", day=2, minute=5))
        work.time_entries.add(time_entry("t-first", day=2, minute=1, case_id="c-2"))
        work.time_entries.add(time_entry("t-billed", day=1))
        work.time_entries.add(time_entry("t-elsewhere", case_id="c-3", organisation_id="org-2"))
        work.time_entries.attach(["t-billed"], "inv-1")
        work.commit()
    with uow() as work:
        everything = [e.id for e in work.time_entries.unbilled("org-1")]
        one_case = [e.id for e in work.time_entries.unbilled("org-1", case_id="c-1")]
        through = [e.id for e in work.time_entries.unbilled("org-1", through=date(2026, 3, 2))]
        for_case = [e.id for e in work.time_entries.for_case("c-1")]
    assert everything == ["t-first", "t-a", "t-b", "t-late"]
    assert one_case == ["t-a", "t-b", "t-late"]
    assert through == ["t-first", "t-a", "t-b"]
    assert for_case == ["t-billed", "t-a", "t-b", "t-late"]


def test_time_goes_on_one_invoice_all_or_nothing(uow: UnitOfWorkFactory) -> None:
    _with_cases(uow)
    with uow() as work:
        for entry_id in ("t-1", "t-2", "t-3"):
            work.time_entries.add(time_entry(entry_id))
        work.time_entries.attach(["t-1"], "inv-1")
        with pytest.raises(ConcurrencyConflict):
            work.time_entries.attach(["t-2", "t-1"], "inv-2")
        with pytest.raises(ConcurrencyConflict):
            work.time_entries.attach(["t-3", "t-missing"], "inv-2")
        work.time_entries.attach(["t-2", "t-3"], "inv-2")
        work.commit()
    with uow() as work:
        assert [e.id for e in work.time_entries.for_invoice("inv-1")] == ["t-1"]
        assert [e.id for e in work.time_entries.for_invoice("inv-2")] == ["t-2", "t-3"]
        work.time_entries.detach("inv-2")
        work.time_entries.detach("inv-9")
        work.commit()
    with uow() as work:
        assert work.time_entries.for_invoice("inv-2") == []
        assert [e.id for e in work.time_entries.unbilled("org-1")] == ["t-2", "t-3"]
