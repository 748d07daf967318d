"""From the billing rules to paper: worked examples computed, issued, printed and read back."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from adapters.pdf import Fpdf2InvoiceRenderer
from portal_core.billing.compute import CaseBilling, compute_invoice
from portal_core.billing.contract import (
    Contract,
    Grouping,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
    TaxScope,
)
from portal_core.billing.credit_notes import compute_credit
from portal_core.billing.document import Party, credit_note_document, invoice_document
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.money import MoneyRounding
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.rounding import RoundingRule, TimeRoundingMode
from portal_core.billing.time_entries import TimeEntry

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIRM = Party(name="Λέσχη & Partners LLP", address_lines=("12 Fleet Street", "London"))
CLIENT = Party(name="ООО «Анна Каренина»", address_lines=("ул. Тверская, 7", "Москва"))
STAFF = {"s-1": "Σωκράτης Παπαδόπουλος", "s-2": "Анна Каренина"}
REVERSE_CHARGE = "Reverse charge: VAT to be accounted for by the recipient"
RENDERER = Fpdf2InvoiceRenderer()


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def entry(day: int, minutes: int, staff: str = "s-1") -> TimeEntry:
    return TimeEntry(
        id=f"t-{day}",
        organisation_id="org-1",
        case_id="case-1",
        staff_id=staff,
        role="Senior",
        work_date=date(2026, 10, day),
        minutes=minutes,
        description=f"Work of 2026-10-{day:02d}",
        logged_at=AT,
    )


def issue(contract: Contract, entries: list[TimeEntry]) -> Invoice:
    period = BillingPeriod(2026, 10)
    cases = {"case-1": CaseBilling(case_id="case-1", label="C-000012 Share purchase")}
    calculation = compute_invoice(contract, entries, cases=cases, period=period)
    return Invoice.draft(
        invoice_id="inv-1",
        organisation_id="org-1",
        contract_id=contract.id,
        calculation=calculation,
        at=AT,
        period=period,
    ).issued(number="INV-2026-0001", at=AT, issue_date=date(2026, 11, 2), terms_days=30)


def hourly(discount: int = 0) -> Contract:
    return Contract(
        id="k-1",
        organisation_id="org-1",
        terms=HourlyTerms(),
        currency="EUR",
        rates={"Senior": Decimal("180.00")},
        tax=TaxRule(rate_percent=Decimal(20)),
        discount_percent=Decimal(discount),
        grouping=Grouping.MONTHLY,
        rounding=RoundingRule(increment=15, mode=TimeRoundingMode.UP),
        created_at=AT,
    )


def printed_amounts(text: str) -> dict[str, str]:
    return dict(
        re.findall(r"^(Net|Total|VAT 20% on €[\d,.]+|VAT 0% on €[\d,.]+) (\S+)$", text, re.M)
    )


@pytest.mark.parametrize(
    ("discount", "net", "tax", "total"),
    [(0, "€450.00", "€90.00", "€540.00"), (10, "€405.00", "€81.00", "€486.00")],
    ids=["worked example A", "worked example H"],
)
def test_worked_examples_print_their_totals_to_the_cent(
    discount: int, net: str, tax: str, total: str
) -> None:
    invoice = issue(hourly(discount), [entry(1, 50), entry(2, 7, "s-2"), entry(3, 61)])
    text = text_of(
        RENDERER.render(invoice_document(invoice, firm=FIRM, client=CLIENT, staff_names=STAFF))
    )
    amounts = printed_amounts(text)
    assert amounts["Net"] == net
    assert amounts[f"VAT 20% on {net}"] == tax
    assert amounts["Total"] == total
    assert "C-000012 Share purchase: Senior, 2.50 h at 180.00/h 2.50 180.00 450.00" in text
    assert "2026-10-02 Анна Каренина Work of 2026-10-02 (7 min) 0.25" in text
    assert "Period: October 2026" in text
    assert "Please pay by 2026-12-02, quoting INV-2026-0001." in text


def test_worked_example_c_prints_the_retainer_and_its_reverse_charge_note() -> None:
    retainer = Contract(
        id="k-2",
        organisation_id="org-1",
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"),
            included_minutes=600,
            overage_rate=Decimal("150.00"),
        ),
        currency="EUR",
        tax=TaxRule(rate_percent=Decimal(0), note=REVERSE_CHARGE),
        grouping=Grouping.MONTHLY,
        rounding=RoundingRule(increment=6, mode=TimeRoundingMode.NEAREST),
        created_at=AT,
    )
    invoice = issue(retainer, [entry(1, 125), entry(2, 233), entry(3, 384)])
    text = text_of(
        RENDERER.render(invoice_document(invoice, firm=FIRM, client=CLIENT, staff_names=STAFF))
    )
    assert printed_amounts(text)["Total"] == "€2,360.00"
    assert REVERSE_CHARGE in text
    assert "360.00" in text  # the overage line: 2.40 h at 150.00


def test_a_voiding_credit_note_prints_what_it_credits() -> None:
    invoice = issue(hourly(10), [entry(1, 50), entry(2, 7, "s-2"), entry(3, 61)])
    credit = compute_credit(
        invoice, [], None, tax_scope=TaxScope.INVOICE, mode=MoneyRounding.HALF_UP
    )
    note = CreditNote(
        id="cn-1",
        number="CN-2026-0001",
        invoice_id=invoice.id,
        invoice_number="INV-2026-0001",
        organisation_id="org-1",
        lines=credit.lines,
        tax=credit.tax,
        reason="Billed to the wrong entity",
        issued_at=AT,
        issue_date=date(2026, 11, 5),
    )
    text = text_of(RENDERER.render(credit_note_document(note, invoice, firm=FIRM, client=CLIENT)))
    assert "Credit note" in text
    assert "Credits invoice: INV-2026-0001" in text
    assert "Discount 10% -45.00" in text
    assert "Total credited €486.00" in text
    assert "Reason: Billed to the wrong entity" in text
