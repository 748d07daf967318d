"""Printable documents for the PDF tests, built so that they add up (amounts rounded per line)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from portal_core.billing.document import (
    DiscountLine,
    DocumentKind,
    DocumentLine,
    InvoiceDocument,
    Party,
    PrintedTimeEntry,
    TaxLine,
)

FIRM = Party(
    name="Λέσχη & Partners LLP",
    address_lines=("12 Fleet Street", "London EC4Y 1AA", "United Kingdom"),
    tax_id="GB123456789",
    email="billing@lesche.example",
)
CLIENT = Party(
    name="ООО «Анна Каренина»",
    address_lines=("ул. Тверская, 7", "125009 Москва"),
    tax_id="RU7701234567",
    email="accounts@karenina.example",
)
STAFF = ("Σωκράτης Παπαδόπουλος", "Анна Каренина", "Zoë Łukasiewicz-Ørsted")
REVERSE_CHARGE = "Reverse charge: VAT to be accounted for by the recipient"
CENT = Decimal("0.01")


def entries_for(start: date, count: int, minutes: int = 50) -> tuple[PrintedTimeEntry, ...]:
    return tuple(
        PrintedTimeEntry(
            date=start + timedelta(days=index % 28),
            staff_name=STAFF[index % len(STAFF)],
            description=f"Drafting clause {index + 1} of the share purchase agreement",
            raw_minutes=minutes + index % 7,
            billed_minutes=60,
        )
        for index in range(count)
    )


def charged_line(
    reference: str, role: str, rate: Decimal, entries: tuple[PrintedTimeEntry, ...]
) -> DocumentLine:
    minutes = sum(entry.billed_minutes or 0 for entry in entries)
    amount = (Decimal(minutes) * rate / 60).quantize(CENT, ROUND_HALF_UP)
    return DocumentLine(
        description=f"Legal advice on case {reference}",
        case_reference=reference,
        role=role,
        billed_minutes=minutes,
        rate=rate,
        amount=amount,
        entries=entries,
    )


def invoice(
    *,
    entries: int = 6,
    lines: int = 2,
    tax_rate: Decimal = Decimal("0.20"),
    tax_note: str | None = None,
    discount_percent: Decimal | None = Decimal(10),
    amount_paid: Decimal | None = None,
) -> InvoiceDocument:
    """An invoice of `lines` lines sharing `entries` time entries, with discount and tax."""
    per_line = max(1, entries // lines)
    built = tuple(
        charged_line(
            f"CASE-{index + 1:04d}",
            "Senior" if index % 2 == 0 else "Associate",
            Decimal("180.00") if index % 2 == 0 else Decimal("1250.50"),
            entries_for(
                date(2026, 10, 1),
                per_line if index < lines - 1 else entries - per_line * (lines - 1),
            ),
        )
        for index in range(lines)
    )
    return assemble(
        DocumentKind.INVOICE,
        "INV-2026-0042",
        built,
        tax_rate=tax_rate,
        tax_note=tax_note,
        discount_percent=discount_percent,
        amount_paid=amount_paid,
    )


def credit_note() -> InvoiceDocument:
    line = charged_line("CASE-0001", "Senior", Decimal("180.00"), entries_for(date(2026, 10, 1), 2))
    return assemble(
        DocumentKind.CREDIT_NOTE,
        "CN-2026-0007",
        (line,),
        tax_rate=Decimal("0.20"),
        tax_note=None,
        discount_percent=None,
        amount_paid=None,
        credited="INV-2026-0042",
    )


def assemble(
    kind: DocumentKind,
    number: str,
    lines: tuple[DocumentLine, ...],
    *,
    tax_rate: Decimal,
    tax_note: str | None,
    discount_percent: Decimal | None,
    amount_paid: Decimal | None,
    credited: str | None = None,
) -> InvoiceDocument:
    subtotal = sum((line.amount for line in lines), Decimal(0))
    discount = None
    net = subtotal
    if discount_percent is not None:
        amount = -(subtotal * discount_percent / 100).quantize(CENT, ROUND_HALF_UP)
        discount = DiscountLine(description=f"Discount {discount_percent}%", amount=amount)
        net = subtotal + amount
    tax = (net * tax_rate).quantize(CENT, ROUND_HALF_UP)
    gross = net + tax
    return InvoiceDocument(
        kind=kind,
        number=number,
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1) if kind is DocumentKind.INVOICE else None,
        credited_invoice_number=credited,
        currency="EUR",
        minor_units=2,
        firm=FIRM,
        client=CLIENT,
        period="October 2026",
        lines=lines,
        discount=discount,
        net=net,
        tax_lines=(TaxLine(label="VAT", rate=tax_rate, base=net, amount=tax, note=tax_note),),
        gross=gross,
        notes=("Payment within 30 days to IBAN GB29 NWBK 6016 1331 9268 19, quoting the number.",),
        amount_paid=amount_paid,
        balance_due=None if amount_paid is None else gross - amount_paid,
    )
