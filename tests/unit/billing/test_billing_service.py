"""Billing use cases through the in-memory fakes: triggers, lifecycle, bad input, access."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portal_core.billing.contract import (
    FixedFeeTerms,
    Grouping,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
)
from portal_core.billing.credit_notes import CreditLine
from portal_core.billing.events import InvoiceDrafted, InvoiceIssued, TimeLogged
from portal_core.billing.invoice import InvoiceStatus, LineKind
from portal_core.billing.money import CurrencyMismatch, Money
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.receivables import AgingBucket
from portal_core.billing.rounding import RoundingRule, TimeRoundingMode
from portal_core.billing.service import (
    DeleteTime,
    EditTime,
    IssueCreditNote,
    LogTime,
    RecordPayment,
    SetCaseFee,
    SetContract,
)
from portal_core.cases.model import Case, CaseStatusChanged
from portal_core.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from tests.unit.billing.builders import World, make_world

OCTOBER = BillingPeriod(2026, 10)
NOVEMBER_2ND = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


@pytest.fixture
def world() -> World:
    return make_world()


def log(world: World, case: Case, minutes: int, **overrides: object) -> str:
    settings: dict[str, object] = {
        "case_id": case.id,
        "role": "Senior",
        "work_date": date(2026, 10, 6),
        "minutes": minutes,
        "description": "Review",
    }
    settings.update(overrides)
    return world.billing.log_time(world.staff, LogTime(**settings)).id  # type: ignore[arg-type]


def month_invoice(world: World, *minutes: int) -> str:
    world.set_contract()
    case = world.open_case()
    for m in minutes:
        log(world, case, m)
    world.clock.set(NOVEMBER_2ND)
    invoice = world.billing.run_month(world.staff, "acme", OCTOBER)
    assert invoice is not None
    return invoice.id


# monthly run


def test_a_monthly_run_bills_the_months_time_once(world: World) -> None:
    invoice_id = month_invoice(world, 60, 30)
    invoice = world.billing.get_invoice(world.staff, invoice_id)
    assert invoice.gross == eur("324.00")  # 1.5 h × 180.00 + 20 %
    assert invoice.status is InvoiceStatus.DRAFT
    assert any(isinstance(e, InvoiceDrafted) for e in world.published)


def test_running_the_same_month_again_creates_nothing_and_changes_nothing(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    before = world.snapshot()

    again = world.billing.run_month(world.staff, "acme", OCTOBER)

    assert again is not None
    assert again.id == invoice_id
    assert world.snapshot() == before


def test_time_logged_after_the_months_invoice_goes_on_the_next_one(world: World) -> None:
    first = month_invoice(world, 60)
    (case,) = world.storage.state.cases.values()
    late = log(world, case, 30, work_date=date(2026, 10, 30))

    world.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    second = world.billing.run_month(world.staff, "acme", BillingPeriod(2026, 11))

    assert second is not None
    assert second.id != first
    assert world.storage.state.time_entries[late].invoice_id == second.id
    assert second.gross == eur("108.00")


def test_a_month_is_billed_only_once_it_has_ended_in_the_firms_time_zone() -> None:
    world = make_world(time_zone="Asia/Tokyo")
    world.set_contract()
    world.clock.set(datetime(2026, 10, 31, 16, 0, tzinfo=UTC))  # already 1 Nov in Tokyo
    assert world.billing.run_month(world.staff, "acme", OCTOBER) is None  # allowed, nothing to bill

    london = make_world(time_zone="Europe/London")
    london.set_contract()
    london.clock.set(datetime(2026, 10, 31, 16, 0, tzinfo=UTC))  # still 31 Oct in London
    with pytest.raises(InvalidInput, match="has not ended"):
        london.billing.run_month(london.staff, "acme", OCTOBER)


def test_a_month_with_nothing_to_bill_is_run_once_and_late_time_goes_on_the_next(
    world: World,
) -> None:
    world.set_contract()
    case = world.open_case()
    world.clock.set(NOVEMBER_2ND)
    assert world.billing.run_month(world.staff, "acme", OCTOBER) is None
    late = log(world, case, 60, work_date=date(2026, 10, 20))
    before = world.snapshot()

    assert world.billing.run_month(world.staff, "acme", OCTOBER) is None
    assert world.snapshot() == before

    world.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    november = world.billing.run_month(world.staff, "acme", BillingPeriod(2026, 11))
    assert november is not None
    assert world.storage.state.time_entries[late].invoice_id == november.id


def test_a_retainer_month_carries_unused_hours_into_the_next(world: World) -> None:
    world.set_contract(
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"),
            included_minutes=600,
            overage_rate=Decimal("150.00"),
            rollover_limit_minutes=60,
        ),
        tax=TaxRule(rate_percent=Decimal(0), note="Reverse charge"),
        rounding=RoundingRule(increment=6, mode=TimeRoundingMode.NEAREST),
    )
    case = world.open_case()
    log(world, case, 480)
    world.clock.set(NOVEMBER_2ND)
    october = world.billing.run_month(world.staff, "acme", OCTOBER)
    assert october is not None
    assert october.calculation.carry_forward_minutes == 60
    log(world, case, 690, work_date=date(2026, 11, 10))
    world.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    november = world.billing.run_month(world.staff, "acme", BillingPeriod(2026, 11))
    assert november is not None
    (overage,) = [line for line in november.lines if line.kind is LineKind.OVERAGE]
    assert overage.minutes == 30  # 690 - (600 + 60)
    assert november.gross == eur("2075.00")


def test_the_monthly_run_for_all_skips_organisations_invoiced_per_case(world: World) -> None:
    world.set_contract()
    world.set_contract("globex", grouping=Grouping.PER_CASE)
    log(world, world.open_case(), 60)
    log(world, world.open_case("globex"), 60)
    world.clock.set(NOVEMBER_2ND)

    run = world.billing.run_month_for_all(world.staff, OCTOBER)

    assert [i.organisation_id for i in run.invoices] == ["acme"]
    assert run.refused == ()


def test_one_organisations_refused_run_never_holds_up_the_others(world: World) -> None:
    world.set_contract()
    world.set_contract("globex")
    log(world, world.open_case(), 60)
    log(world, world.open_case("globex"), 60)
    world.set_contract("globex", rates={"Engineer": Decimal("140.00")})  # Senior has no rate
    world.clock.set(NOVEMBER_2ND)

    run = world.billing.run_month_for_all(world.staff, OCTOBER)

    assert [i.organisation_id for i in run.invoices] == ["acme"]
    assert [organisation for organisation, _ in run.refused] == ["globex"]
    assert "no rate" in run.refused[0][1]


# per case


def test_resolving_a_case_under_a_per_case_contract_drafts_its_invoice(world: World) -> None:
    world.set_contract(grouping=Grouping.PER_CASE)
    case = world.open_case()
    log(world, case, 90)
    resolved = world.resolve(case)
    event = next(e for e in world.published if isinstance(e, CaseStatusChanged))

    invoice = world.billing.on_case_status_changed(event)

    assert invoice is not None
    assert invoice.case_id == resolved.id
    assert invoice.gross == eur("324.00")
    again = world.billing.on_case_status_changed(event)
    assert again is not None
    assert again.id == invoice.id
    assert len(world.storage.state.invoices) == 1


def test_a_case_is_never_drafted_twice_even_after_issue(world: World) -> None:
    world.set_contract(grouping=Grouping.PER_CASE)
    case = world.open_case()
    log(world, case, 60)
    world.resolve(case)
    first = world.billing.draft_for_resolved_case(world.staff, case.id)
    assert first is not None
    world.billing.issue(world.staff, first.id)

    again = world.billing.draft_for_resolved_case(world.staff, case.id)

    assert again is not None
    assert again.id == first.id
    assert len(world.storage.state.invoices) == 1


def test_an_auto_issue_contract_issues_the_case_invoice_at_once(world: World) -> None:
    world.set_contract(grouping=Grouping.PER_CASE, auto_issue=True)
    case = world.open_case()
    log(world, case, 60)
    world.resolve(case)

    invoice = world.billing.draft_for_resolved_case(world.staff, case.id)

    assert invoice is not None
    assert invoice.number == "INV-2026-0001"
    assert invoice.status is InvoiceStatus.ISSUED


def test_a_fixed_fee_case_is_charged_its_price_when_resolved(world: World) -> None:
    world.set_contract(
        terms=FixedFeeTerms(fees_by_case_type={"onboarding": Decimal("2500.00")}),
        grouping=Grouping.PER_CASE,
    )
    case = world.open_case(subject="Onboarding")
    world.billing.set_case_fee(world.admin, SetCaseFee(case_id=case.id, case_type="onboarding"))
    log(world, case, 600)
    world.resolve(case)

    invoice = world.billing.draft_for_resolved_case(world.staff, case.id)

    assert invoice is not None
    assert invoice.gross == eur("3000.00")
    assert [line.kind for line in invoice.lines] == [LineKind.FIXED_FEE, LineKind.INFORMATION]


def test_a_case_that_is_not_resolved_gets_no_invoice(world: World) -> None:
    world.set_contract(grouping=Grouping.PER_CASE)
    case = world.open_case()
    with pytest.raises(InvalidTransition, match="not resolved"):
        world.billing.draft_for_resolved_case(world.staff, case.id)


# lifecycle


def test_issuing_numbers_invoices_gap_free_per_year_and_sets_the_due_date(world: World) -> None:
    invoice_id = month_invoice(world, 60)

    issued = world.billing.issue(world.staff, invoice_id)

    assert issued.number == "INV-2026-0001"
    assert issued.issue_date == date(2026, 11, 2)
    assert issued.due_date == date(2026, 12, 2)
    assert any(isinstance(e, InvoiceIssued) for e in world.published)


def test_issuing_an_issued_invoice_is_refused_and_takes_no_number(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    before = world.snapshot()

    with pytest.raises(InvalidTransition):
        world.billing.issue(world.staff, invoice_id)

    assert world.snapshot() == before


def test_an_issued_invoice_cannot_be_recomputed_nor_its_time_edited(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    (entry,) = world.storage.state.time_entries.values()
    before = world.snapshot()

    with pytest.raises(InvalidTransition):
        world.billing.recompute(world.staff, invoice_id)
    with pytest.raises(InvalidTransition):
        world.billing.edit_time(
            world.staff,
            EditTime(
                entry_id=entry.id,
                expected_version=entry.version,
                role="Senior",
                work_date=entry.work_date,
                minutes=30,
                description="Less",
            ),
        )
    with pytest.raises(InvalidTransition):
        world.billing.delete_time(
            world.staff, DeleteTime(entry_id=entry.id, expected_version=entry.version)
        )
    assert world.snapshot() == before


def test_editing_time_on_a_draft_recomputes_the_draft(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    (entry,) = world.storage.state.time_entries.values()

    world.billing.edit_time(
        world.staff,
        EditTime(
            entry_id=entry.id,
            expected_version=entry.version,
            role="Engineer",
            work_date=entry.work_date,
            minutes=120,
            description="Longer",
        ),
    )

    assert world.billing.get_invoice(world.staff, invoice_id).net == eur("280.00")
    assert world.storage.state.time_entries[entry.id].invoice_id == invoice_id


def test_payments_make_an_invoice_partially_paid_then_paid(world: World) -> None:
    invoice_id = month_invoice(world, 60)  # 216.00
    world.billing.issue(world.staff, invoice_id)

    part = world.billing.record_payment(
        world.staff,
        RecordPayment(
            invoice_id=invoice_id,
            amount=eur("100.00"),
            received_on=date(2026, 11, 5),
            reference="b1",
        ),
    )
    assert part.status is InvoiceStatus.PARTIALLY_PAID
    assert part.balance_due == eur("116.00")
    paid = world.billing.record_payment(
        world.staff,
        RecordPayment(
            invoice_id=invoice_id,
            amount=eur("116.00"),
            received_on=date(2026, 11, 9),
            reference="b2",
        ),
    )
    assert paid.status is InvoiceStatus.PAID


def test_the_same_payment_recorded_twice_counts_once(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    payment = RecordPayment(
        invoice_id=invoice_id, amount=eur("50.00"), received_on=date(2026, 11, 5), reference="tx-1"
    )
    world.billing.record_payment(world.staff, payment)
    again = world.billing.record_payment(world.staff, payment)
    assert again.amount_paid == eur("50.00")
    with pytest.raises(Conflict):
        world.billing.record_payment(
            world.staff,
            RecordPayment(
                invoice_id=invoice_id,
                amount=eur("60.00"),
                received_on=date(2026, 11, 5),
                reference="tx-1",
            ),
        )


def test_an_overpayment_is_kept_and_shown_as_owed_to_the_client(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    paid = world.billing.record_payment(
        world.staff,
        RecordPayment(
            invoice_id=invoice_id,
            amount=eur("300.00"),
            received_on=date(2026, 11, 5),
            reference="x",
        ),
    )
    assert paid.status is InvoiceStatus.PAID
    assert paid.amount_paid == eur("300.00")
    assert paid.overpaid == eur("84.00")


def test_a_payment_in_another_currency_is_refused(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    before = world.snapshot()
    with pytest.raises(CurrencyMismatch):
        world.billing.record_payment(
            world.staff,
            RecordPayment(
                invoice_id=invoice_id,
                amount=Money("10.00", "USD"),
                received_on=date(2026, 11, 5),
                reference="usd",
            ),
        )
    assert world.snapshot() == before


def test_an_unpaid_invoice_is_overdue_after_its_due_date(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    world.clock.set(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert world.billing.invoice_status(world.staff, invoice_id) is InvoiceStatus.ISSUED
    world.clock.advance(timedelta(days=1))
    assert world.billing.invoice_status(world.staff, invoice_id) is InvoiceStatus.OVERDUE


# credit notes


def test_a_credit_note_credits_some_lines_in_its_own_series(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)

    note = world.billing.issue_credit_note(
        world.staff,
        IssueCreditNote(
            invoice_id=invoice_id,
            reason="Goodwill",
            lines=(CreditLine(line_number=1, amount=eur("50.00")),),
        ),
    )

    assert note.number == "CN-2026-0001"
    assert note.gross == eur("60.00")
    invoice = world.billing.get_invoice(world.staff, invoice_id)
    assert invoice.balance_due == eur("156.00")


def test_crediting_more_than_was_invoiced_is_refused_and_nothing_is_written(
    world: World,
) -> None:
    invoice_id = month_invoice(world, 60)  # line 1: 180.00
    world.billing.issue(world.staff, invoice_id)
    world.billing.issue_credit_note(
        world.staff,
        IssueCreditNote(
            invoice_id=invoice_id,
            reason="Part",
            lines=(CreditLine(line_number=1, amount=eur("100.00")),),
        ),
    )
    before = world.snapshot()

    with pytest.raises(InvalidInput, match=r"at most 80\.00"):
        world.billing.issue_credit_note(
            world.staff,
            IssueCreditNote(
                invoice_id=invoice_id,
                reason="Too much",
                lines=(CreditLine(line_number=1, amount=eur("80.01")),),
            ),
        )

    assert world.snapshot() == before


def test_voiding_credits_exactly_what_is_left(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    world.billing.issue_credit_note(
        world.staff,
        IssueCreditNote(
            invoice_id=invoice_id,
            reason="Part",
            lines=(CreditLine(line_number=1, amount=eur("33.33")),),
        ),
    )
    void = world.billing.issue_credit_note(
        world.staff, IssueCreditNote(invoice_id=invoice_id, reason="Void")
    )
    invoice = world.billing.get_invoice(world.staff, invoice_id)
    assert invoice.amount_credited == invoice.gross
    assert invoice.status is InvoiceStatus.CREDITED
    assert void.number == "CN-2026-0002"
    with pytest.raises(InvalidInput, match="nothing left"):
        world.billing.issue_credit_note(
            world.staff, IssueCreditNote(invoice_id=invoice_id, reason="Again")
        )


def test_a_draft_cannot_be_credited(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    with pytest.raises(InvalidTransition):
        world.billing.issue_credit_note(
            world.staff, IssueCreditNote(invoice_id=invoice_id, reason="No")
        )


# bad input at the door


def test_logging_zero_minutes_is_refused_and_nothing_is_written(world: World) -> None:
    world.set_contract()
    case = world.open_case()
    before = world.snapshot()
    with pytest.raises(InvalidInput, match="at least 1 minute"):
        log(world, case, 0)
    assert world.snapshot() == before


def test_logging_a_role_without_a_rate_is_refused(world: World) -> None:
    world.set_contract()
    case = world.open_case()
    with pytest.raises(InvalidInput, match="no rate for the role"):
        log(world, case, 30, role="Partner")
    assert not any(isinstance(e, TimeLogged) for e in world.published)


def test_a_failed_run_writes_nothing(world: World) -> None:
    world.set_contract()
    case = world.open_case()
    log(world, case, 60)
    # the contract changes to one without the role already logged
    world.set_contract(rates={"Engineer": Decimal("140.00")})
    world.clock.set(NOVEMBER_2ND)
    before = world.snapshot()
    with pytest.raises(InvalidInput, match="no rate"):
        world.billing.run_month(world.staff, "acme", OCTOBER)
    assert world.snapshot() == before


def test_a_new_contract_in_another_currency_cannot_recompute_an_old_draft(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.set_contract(currency="USD")
    before = world.snapshot()
    with pytest.raises(CurrencyMismatch):
        world.billing.recompute(world.staff, invoice_id)
    assert world.snapshot() == before


# access


def test_clients_never_see_drafts_and_see_their_own_issued_invoices(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    assert world.billing.list_invoices(world.acme_billing) == []
    with pytest.raises(NotFound):
        world.billing.get_invoice(world.acme_billing, invoice_id)

    world.billing.issue(world.staff, invoice_id)

    assert [i.id for i in world.billing.list_invoices(world.acme_billing)] == [invoice_id]
    assert world.billing.get_invoice(world.acme_billing, invoice_id).id == invoice_id


def test_a_client_of_another_organisation_sees_no_invoice(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)

    assert world.billing.list_invoices(world.globex_billing) == []
    assert world.billing.list_invoices(world.globex_billing, "acme") == []
    with pytest.raises(NotFound):
        world.billing.get_invoice(world.globex_billing, invoice_id)
    with pytest.raises(NotFound):
        world.billing.organisation_work_in_progress(world.globex_billing, "acme")


def test_only_admins_set_contracts_and_only_staff_log_time(world: World) -> None:
    command = SetContract(
        organisation_id="acme",
        terms=HourlyTerms(),
        currency="EUR",
        rates={"Senior": Decimal(100)},
        tax=TaxRule(rate_percent=Decimal(20)),
        grouping=Grouping.MONTHLY,
    )
    with pytest.raises(PermissionDenied):
        world.billing.set_contract(world.staff, command)
    world.billing.set_contract(world.admin, command)
    case = world.open_case()
    with pytest.raises(PermissionDenied):
        world.billing.log_time(
            world.acme_billing,
            LogTime(
                case_id=case.id,
                role="Senior",
                work_date=date(2026, 10, 6),
                minutes=10,
                description="",
            ),
        )


# work in progress and receivables


def test_work_in_progress_shows_unbilled_time_and_what_it_would_bill(world: World) -> None:
    world.set_contract(terms=HourlyTerms(cap_per_case=Decimal("500.00")))
    case = world.open_case()
    other = world.open_case(subject="Payroll")
    log(world, case, 120)
    log(world, case, 60, billable=False)
    log(world, other, 60, role="Engineer")

    mine = world.billing.case_work_in_progress(world.acme_billing, case.id)
    everything = world.billing.organisation_work_in_progress(world.acme_billing, "acme")

    assert mine.amount == eur("360.00")
    assert mine.raw_minutes == 180
    assert [line.kind for line in mine.lines] == [LineKind.TIME, LineKind.NOT_CHARGED]
    assert everything.amount == eur("500.00")
    assert len(everything.entries) == 3
    with pytest.raises(NotFound):
        world.billing.case_work_in_progress(world.acme_viewer, case.id)


def test_billed_time_leaves_work_in_progress(world: World) -> None:
    month_invoice(world, 60)
    assert world.billing.organisation_work_in_progress(world.staff, "acme").entries == ()


def test_receivables_age_by_days_past_due_per_client_and_case(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)  # due 2 Dec
    world.billing.record_payment(
        world.staff,
        RecordPayment(
            invoice_id=invoice_id, amount=eur("16.00"), received_on=date(2026, 11, 5), reference="p"
        ),
    )

    report = world.billing.receivables(world.staff, on=date(2027, 1, 15))  # 44 days late

    (client,) = report.by_client
    assert client.organisation_id == "acme"
    assert client.amount(AgingBucket.DAYS_31_60) == eur("200.00")
    assert client.total == eur("200.00")
    (case_row,) = report.by_case
    assert case_row.case_id is not None
    assert case_row.total == eur("200.00")
    with pytest.raises(PermissionDenied):
        world.billing.receivables(world.acme_billing)


def test_dso_is_receivables_over_invoiced_times_days(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)  # 216.00 on 2 Nov
    world.billing.record_payment(
        world.staff,
        RecordPayment(
            invoice_id=invoice_id,
            amount=eur("108.00"),
            received_on=date(2026, 11, 20),
            reference="p",
        ),
    )
    (dso,) = world.billing.days_sales_outstanding(
        world.staff, start=date(2026, 11, 1), end=date(2026, 11, 30)
    )
    assert dso.receivables == eur("108.00")
    assert dso.invoiced == eur("216.00")
    assert dso.value == Decimal("15.0")


def test_a_fixed_fee_case_type_the_contract_does_not_price_is_refused(world: World) -> None:
    world.set_contract(
        terms=FixedFeeTerms(fees_by_case_type={"onboarding": Decimal("2500.00")}),
        grouping=Grouping.PER_CASE,
    )
    case = world.open_case()
    before = world.snapshot()
    with pytest.raises(InvalidInput, match="no fixed fee for case type"):
        world.billing.set_case_fee(world.admin, SetCaseFee(case_id=case.id, case_type="audit"))
    with pytest.raises(PermissionDenied):
        world.billing.set_case_fee(world.staff, SetCaseFee(case_id=case.id, price=Decimal(10)))
    assert world.snapshot() == before


def test_a_resolved_fixed_fee_case_without_a_fee_cannot_be_drafted(world: World) -> None:
    world.set_contract(terms=FixedFeeTerms(), grouping=Grouping.PER_CASE)
    case = world.open_case()
    log(world, case, 60)
    world.resolve(case)
    with pytest.raises(InvalidInput, match="has no fixed fee"):
        world.billing.draft_for_resolved_case(world.staff, case.id)


def test_the_issued_invoices_document_is_recorded_once_with_its_hash(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    with pytest.raises(InvalidTransition):
        world.billing.record_invoice_document(world.staff, invoice_id, key="k", sha256="0" * 64)
    world.billing.issue(world.staff, invoice_id)

    stored = world.billing.record_invoice_document(
        world.staff, invoice_id, key="invoices/INV-2026-0001.pdf", sha256="a" * 64
    )

    assert stored.document_sha256 == "a" * 64
    with pytest.raises(InvalidTransition):
        world.billing.record_invoice_document(world.staff, invoice_id, key="k2", sha256="b" * 64)


def test_clients_see_their_credit_notes_and_never_another_organisations(world: World) -> None:
    invoice_id = month_invoice(world, 60)
    world.billing.issue(world.staff, invoice_id)
    note = world.billing.issue_credit_note(
        world.staff, IssueCreditNote(invoice_id=invoice_id, reason="Void")
    )

    assert world.billing.get_credit_note(world.acme_billing, note.id).id == note.id
    assert [n.id for n in world.billing.credit_notes(world.acme_billing, invoice_id)] == [note.id]
    with pytest.raises(NotFound):
        world.billing.get_credit_note(world.globex_billing, note.id)
    with pytest.raises(NotFound):
        world.billing.credit_notes(world.globex_billing, invoice_id)


def test_numbers_restart_each_year_and_credit_notes_count_apart(world: World) -> None:
    world.set_contract(grouping=Grouping.PER_CASE)
    numbers = []
    for when in (
        datetime(2026, 12, 30, 12, 0, tzinfo=UTC),
        datetime(2027, 1, 4, 12, 0, tzinfo=UTC),
    ):
        world.clock.set(when)
        case = world.open_case()
        log(world, case, 60)
        world.resolve(case)
        draft = world.billing.draft_for_resolved_case(world.staff, case.id)
        assert draft is not None
        numbers.append(world.billing.issue(world.staff, draft.id).number)
        note = world.billing.issue_credit_note(
            world.staff, IssueCreditNote(invoice_id=draft.id, reason="Void")
        )
        numbers.append(note.number)

    assert numbers == ["INV-2026-0001", "CN-2026-0001", "INV-2027-0001", "CN-2027-0001"]


def test_retainer_overage_shows_in_the_organisations_work_in_progress_only(world: World) -> None:
    world.set_contract(
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"), included_minutes=60, overage_rate=Decimal("150.00")
        ),
    )
    first, second = world.open_case(), world.open_case(subject="Payroll")
    log(world, first, 60)
    log(world, second, 30)

    everything = world.billing.organisation_work_in_progress(world.staff, "acme")
    one_case = world.billing.case_work_in_progress(world.staff, second.id)

    assert everything.amount == eur("75.00")  # 30 min over the included hour, at 150.00/h
    assert one_case.amount.is_zero
    assert [line.kind for line in one_case.lines] == [LineKind.INCLUDED]


def test_a_fixed_fee_case_shows_its_price_in_work_in_progress_until_invoiced(
    world: World,
) -> None:
    world.set_contract(terms=FixedFeeTerms(), grouping=Grouping.PER_CASE)
    case = world.open_case()
    log(world, case, 90)
    assert world.billing.case_work_in_progress(world.staff, case.id).amount.is_zero
    world.billing.set_case_fee(world.admin, SetCaseFee(case_id=case.id, price=Decimal("800.00")))

    progress = world.billing.case_work_in_progress(world.acme_billing, case.id)

    assert progress.amount == eur("800.00")
    assert progress.billable_minutes == 90
