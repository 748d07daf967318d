"""Billing objects for the storage contract tests: contracts, entries, invoices, credit notes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from portal_core.billing.contract import (
    Contract,
    FixedFeeTerms,
    Grouping,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
    TaxScope,
)
from portal_core.billing.invoice import (
    BilledEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceCalculation,
    InvoiceLine,
    LineKind,
    Payment,
    TaxLine,
)
from portal_core.billing.money import Money
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.rounding import RoundingRule, RoundingScope, TimeRoundingMode
from portal_core.billing.time_entries import TimeEntry

from .factories import T0, at


def hourly_contract(
    contract_id: str = "k-1", organisation_id: str = "org-1", **changes: object
) -> Contract:
    values: dict[str, object] = {
        "id": contract_id,
        "organisation_id": organisation_id,
        "terms": HourlyTerms(cap_per_case=Decimal("1000.00")),
        "currency": "EUR",
        "rates": {"Senior": Decimal("180.00"), "Engineer": Decimal("140.125")},
        "tax": TaxRule(rate_percent=Decimal("20"), scope=TaxScope.LINE),
        "discount_percent": Decimal("10"),
        "grouping": Grouping.PER_CASE,
        "rounding": RoundingRule(increment=15, mode=TimeRoundingMode.UP),
        "created_at": T0,
    }
    values.update(changes)
    return Contract(**values)  # type: ignore[arg-type]


def retainer_contract(contract_id: str = "k-2", organisation_id: str = "org-1") -> Contract:
    return Contract(
        id=contract_id,
        organisation_id=organisation_id,
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"),
            included_minutes=600,
            overage_rate=Decimal("150.00"),
            rollover_limit_minutes=120,
        ),
        currency="EUR",
        tax=TaxRule(rate_percent=Decimal("0"), note="Reverse charge"),
        grouping=Grouping.MONTHLY,
        rounding=RoundingRule(increment=6, mode=TimeRoundingMode.NEAREST, scope=RoundingScope.CASE),
        created_at=T0,
    )


def fixed_fee_contract(contract_id: str = "k-3", organisation_id: str = "org-1") -> Contract:
    return Contract(
        id=contract_id,
        organisation_id=organisation_id,
        terms=FixedFeeTerms(fees_by_case_type={"onboarding": Decimal("2500")}),
        currency="JPY",
        tax=TaxRule(rate_percent=Decimal("10")),
        grouping=Grouping.PER_CASE,
        created_at=T0,
    )


def time_entry(
    entry_id: str,
    case_id: str = "c-1",
    *,
    day: int = 1,
    minute: int = 0,
    minutes: int = 50,
    organisation_id: str = "org-1",
) -> TimeEntry:
    return TimeEntry(
        id=entry_id,
        organisation_id=organisation_id,
        case_id=case_id,
        staff_id="s-1",
        role="Senior",
        work_date=date(2026, 3, day),
        minutes=minutes,
        description=f"Work {entry_id}",
        logged_at=at(minute),
    )


def _eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def calculation(*case_ids: str) -> InvoiceCalculation:
    lines = [
        InvoiceLine(
            number=position,
            kind=LineKind.TIME,
            description=f"Senior on {case_id}",
            amount=_eur("450.00"),
            case_id=case_id,
            role="Senior",
            rate=_eur("180.00"),
            minutes=150,
            entries=(
                BilledEntry(
                    entry_id=f"t-{case_id}",
                    work_date=date(2026, 3, 2),
                    staff_id="s-1",
                    role="Senior",
                    description="Review",
                    raw_minutes=50,
                    billed_minutes=60,
                ),
            ),
        )
        for position, case_id in enumerate(case_ids or ("c-1",), start=1)
    ]
    lines.append(
        InvoiceLine(
            number=len(lines) + 1,
            kind=LineKind.DISCOUNT,
            description="Discount",
            amount=_eur("-0.10"),
        )
    )
    net = sum((line.amount.amount for line in lines), Decimal("0.00"))
    return InvoiceCalculation.of(
        "EUR",
        lines,
        [TaxLine(rate_percent=Decimal("20"), base=_eur(str(net)), amount=_eur("89.98"))],
    )


def case_invoice(invoice_id: str, case_id: str = "c-1", *, minute: int = 0) -> Invoice:
    return Invoice.draft(
        invoice_id=invoice_id,
        organisation_id="org-1",
        contract_id="k-1",
        calculation=calculation(case_id),
        at=at(minute),
        case_id=case_id,
    )


def monthly_invoice(invoice_id: str, *case_ids: str, month: int = 3, minute: int = 0) -> Invoice:
    return Invoice.draft(
        invoice_id=invoice_id,
        organisation_id="org-1",
        contract_id="k-1",
        calculation=calculation(*case_ids),
        at=at(minute),
        period=BillingPeriod(2026, month),
    )


def issued(invoice: Invoice, number: str, *, minute: int = 10) -> Invoice:
    return invoice.issued(number=number, at=at(minute), issue_date=date(2026, 3, 31), terms_days=30)


def paid(invoice: Invoice, amount: str, reference: str) -> Invoice:
    return invoice.with_payment(
        Payment(
            id=f"p-{reference}",
            amount=_eur(amount),
            received_on=date(2026, 4, 10),
            reference=reference,
            recorded_at=T0 + timedelta(days=40),
        )
    )


def credit_note(
    note_id: str, number: str, invoice: Invoice, *, minute: int = 20, amount: str = "100.00"
) -> CreditNote:
    return CreditNote(
        id=note_id,
        number=number,
        invoice_id=invoice.id,
        invoice_number=invoice.number or "",
        organisation_id=invoice.organisation_id,
        lines=(CreditNoteLine(invoice_line=1, description="Goodwill", amount=_eur(amount)),),
        tax=_eur("20.00"),
        reason="Agreed reduction",
        issued_at=at(minute),
        issue_date=date(2026, 4, 1),
    )
