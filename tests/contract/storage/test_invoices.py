from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from attrs import evolve

from portal_core.billing.money import Money
from portal_core.errors import ConcurrencyConflict, Conflict, NotFound
from portal_core.ports import UnitOfWorkFactory

from .billing_factories import (
    case_invoice,
    credit_note,
    hourly_contract,
    issued,
    monthly_invoice,
    paid,
)
from .factories import at, case, organisation


def _billing_ready(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        for case_id in ("c-1", "c-2", "c-3"):
            work.cases.add(case(case_id))
        work.contracts.add(hourly_contract())
        work.commit()


def test_an_invoice_reads_back_to_the_cent_with_payments_and_credits(
    uow: UnitOfWorkFactory,
) -> None:
    _billing_ready(uow)
    invoice = issued(case_invoice("inv-1"), "INV-2026-0001")
    invoice = paid(paid(invoice, "100.10", "bank-1"), "0.20", "bank-2")
    invoice = invoice.with_credit(Money(Decimal("10.05"), "EUR"), at=at(50))
    invoice = invoice.with_document(key="invoices/inv-1.pdf", sha256="ab" * 32, at=at(51))
    with uow() as work:
        work.invoices.add(invoice)
        work.commit()
    with uow() as work:
        stored = work.invoices.get("inv-1")
    assert stored == invoice
    assert stored is not None
    assert [str(line.amount.amount) for line in stored.lines] == ["450.00", "-0.10"]
    assert (str(stored.amount_paid.amount), str(stored.amount_credited.amount)) == (
        "100.30",
        "10.05",
    )
    assert stored.due_date == date(2026, 4, 30)


def test_an_organisation_has_one_invoice_per_period_or_case(uow: UnitOfWorkFactory) -> None:
    _billing_ready(uow)
    with uow() as work:
        work.invoices.add(monthly_invoice("inv-1", "c-1"))
        with pytest.raises(Conflict, match="has an invoice for period:2026-03"):
            work.invoices.add(monthly_invoice("inv-2", "c-2"))
        work.invoices.add(monthly_invoice("inv-3", "c-2", month=4))
        with pytest.raises(Conflict):
            work.invoices.add(monthly_invoice("inv-1", "c-1", month=5))
        work.commit()
    with uow() as work:
        found = work.invoices.by_billing_key("org-1", "period:2026-04")
        assert found is not None
        assert found.id == "inv-3"
        assert work.invoices.by_billing_key("org-1", "period:2026-06") is None
        assert work.invoices.by_billing_key("org-2", "period:2026-04") is None


def test_no_two_invoices_share_a_number(uow: UnitOfWorkFactory) -> None:
    _billing_ready(uow)
    first = case_invoice("inv-1", "c-1")
    second = case_invoice("inv-2", "c-2")
    with uow() as work:
        work.invoices.add(first)
        work.invoices.add(second)
        work.invoices.update(issued(first, "INV-2026-0001"), expected_version=1)
        with pytest.raises(Conflict, match="number"):
            work.invoices.update(issued(second, "INV-2026-0001"), expected_version=1)
        work.commit()
    with uow() as work:
        numbered = work.invoices.by_number("INV-2026-0001")
        assert numbered is not None
        assert numbered.id == "inv-1"
        assert work.invoices.by_number("INV-2026-0002") is None
        still_draft = work.invoices.get("inv-2")
        assert still_draft is not None
        assert still_draft.is_draft


def test_an_invoice_changed_meanwhile_is_not_overwritten(uow: UnitOfWorkFactory) -> None:
    _billing_ready(uow)
    draft = case_invoice("inv-1")
    with uow() as work:
        work.invoices.add(draft)
        work.invoices.update(issued(draft, "INV-2026-0001"), expected_version=1)
        with pytest.raises(ConcurrencyConflict):
            work.invoices.update(issued(draft, "INV-2026-0002"), expected_version=1)
        with pytest.raises(NotFound):
            work.invoices.update(case_invoice("inv-9"), expected_version=1)
        work.commit()
    with uow() as work:
        stored = work.invoices.get("inv-1")
    assert stored is not None
    assert (stored.number, stored.version) == ("INV-2026-0001", 2)


def test_a_case_finds_its_own_and_its_monthly_invoices_oldest_first(
    uow: UnitOfWorkFactory,
) -> None:
    _billing_ready(uow)
    with uow() as work:
        work.invoices.add(monthly_invoice("inv-m", "c-2", "c-1", minute=5))
        work.invoices.add(case_invoice("inv-c", "c-1", minute=1))
        work.invoices.add(case_invoice("inv-other", "c-3", minute=2))
        work.commit()
    with uow() as work:
        assert [i.id for i in work.invoices.for_case("c-1")] == ["inv-c", "inv-m"]
        assert [i.id for i in work.invoices.for_case("c-2")] == ["inv-m"]
        assert work.invoices.for_case("c-9") == []


def test_invoices_list_newest_first_with_drafts_only_when_asked(uow: UnitOfWorkFactory) -> None:
    _billing_ready(uow)
    with uow() as work:
        work.organisations.add(organisation("org-2"))
        work.contracts.add(hourly_contract("k-2", "org-2"))
        work.invoices.add(issued(case_invoice("inv-1", "c-1", minute=1), "INV-2026-0001"))
        work.invoices.add(case_invoice("inv-2", "c-2", minute=2))
        work.invoices.add(issued(case_invoice("inv-3", "c-3", minute=3), "INV-2026-0002"))
        other = evolve(
            case_invoice("inv-4", "c-1", minute=4), organisation_id="org-2", contract_id="k-2"
        )
        work.invoices.add(other)
        work.commit()
    with uow() as work:
        everything = [i.id for i in work.invoices.list(organisation_id=None, include_drafts=True)]
        issued_only = [
            i.id for i in work.invoices.list(organisation_id="org-1", include_drafts=False)
        ]
    assert everything == ["inv-4", "inv-3", "inv-2", "inv-1"]
    assert issued_only == ["inv-3", "inv-1"]


def test_credit_notes_are_numbered_once_and_listed_in_order(uow: UnitOfWorkFactory) -> None:
    _billing_ready(uow)
    invoice = issued(case_invoice("inv-1"), "INV-2026-0001")
    first = credit_note("cn-1", "CN-2026-0001", invoice, minute=30)
    second = credit_note("cn-2", "CN-2026-0002", invoice, minute=20, amount="0.01")
    with uow() as work:
        work.invoices.add(invoice)
        work.credit_notes.add(first)
        work.credit_notes.add(second)
        with pytest.raises(Conflict):
            work.credit_notes.add(evolve(second, id="cn-3"))
        with pytest.raises(Conflict):
            work.credit_notes.add(evolve(second, number="CN-2026-0009"))
        documented = first.with_document(key="credit-notes/cn-1.pdf", sha256="cd" * 32)
        work.credit_notes.update(documented)
        with pytest.raises(NotFound):
            work.credit_notes.update(evolve(first, id="cn-9"))
        work.commit()
    with uow() as work:
        assert work.credit_notes.get("cn-1") == documented
        assert work.credit_notes.get("cn-9") is None
        assert list(work.credit_notes.for_invoice("inv-1")) == [second, documented]
        assert list(work.credit_notes.list(organisation_id="org-1")) == [documented, second]
        assert work.credit_notes.list(organisation_id="org-2") == []
    stored_second = second
    assert str(stored_second.net.amount) == "0.01"
