"""The printable invoice or credit note: exactly what a PDF shows, and the check that it adds up.

The billing rules compute and round every amount; this model only carries the results to a
renderer, so a renderer formats and lays out but never calculates. `check_adds_up` is the last
guard before anything is printed: every total must equal the sum of the printed lines above it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from attrs import field, frozen

from portal_core.billing.invoice import BilledEntry, CreditNote, Invoice, LineKind
from portal_core.errors import InvalidInput, InvalidTransition

MAX_MINOR_UNITS = 4
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
MINUTES_PER_HOUR = Decimal(60)
HOURS_EXPONENT = Decimal("0.01")

CURRENCY_SYMBOLS: dict[str, str] = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}
"""Printed before an amount; any other currency prints its ISO code and a space."""


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def heading(self) -> str:
        """The document's name as printed at its top: "Invoice" or "Credit note"."""
        return "Invoice" if self is DocumentKind.INVOICE else "Credit note"


def _lines_of_text(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@frozen(kw_only=True)
class Party:
    """The firm or its client, as printed in a document's heading."""

    name: str
    address_lines: tuple[str, ...] = field(default=(), converter=_lines_of_text)
    tax_id: str | None = None
    email: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("A party on an invoice needs a name.")


@frozen(kw_only=True)
class PrintedTimeEntry:
    """One time entry listed beneath the line that charges it.

    `billed_minutes` is None when the contract rounds per case rather than per entry: then only
    the line carries billed time.
    """

    date: date
    staff_name: str
    description: str
    raw_minutes: int
    billed_minutes: int | None = None
    billable: bool = True
    """False for work shown to the client but never charged."""

    def __attrs_post_init__(self) -> None:
        if self.raw_minutes < 1:
            raise InvalidInput("A time entry records at least one minute.")
        if self.billed_minutes is not None and self.billed_minutes < 0:
            raise InvalidInput("Billed minutes cannot be negative.")

    @property
    def billed_hours(self) -> Decimal | None:
        return None if self.billed_minutes is None else hours_of(self.billed_minutes)


def _entries(value: Iterable[PrintedTimeEntry]) -> tuple[PrintedTimeEntry, ...]:
    return tuple(value)


@frozen(kw_only=True)
class DocumentLine:
    """A charged line: one case, role and rate, or a fee, a cap or any other amount.

    Billed time is kept in minutes, the billing rules' unit, because hours such as 7/60 have no
    exact decimal form; hours are shown rounded to two places.
    """

    description: str
    amount: Decimal
    case_reference: str | None = None
    role: str | None = None
    billed_minutes: int | None = None
    rate: Decimal | None = None
    """Per hour, in the document's currency."""
    entries: tuple[PrintedTimeEntry, ...] = field(default=(), converter=_entries)

    @property
    def hours(self) -> Decimal | None:
        return None if self.billed_minutes is None else hours_of(self.billed_minutes)


@frozen(kw_only=True)
class DiscountLine:
    description: str
    amount: Decimal
    """Negative on an invoice: it reduces the net."""


@frozen(kw_only=True)
class TaxLine:
    label: str
    """How the tax is called on the document: "VAT", "GST", "Sales tax"."""
    rate: Decimal
    """A fraction: Decimal("0.20") is 20 %."""
    base: Decimal
    amount: Decimal
    note: str | None = None
    """For example "Reverse charge: VAT to be accounted for by the recipient"."""

    @property
    def percent(self) -> str:
        """The rate as printed: "20%", "7.7%", "0%"."""
        return f"{format(self.rate * 100, 'f').rstrip('0').rstrip('.') or '0'}%"


def _document_lines(value: Iterable[DocumentLine]) -> tuple[DocumentLine, ...]:
    return tuple(value)


def _tax_lines(value: Iterable[TaxLine]) -> tuple[TaxLine, ...]:
    return tuple(value)


@frozen(kw_only=True)
class InvoiceDocument:
    """An invoice or credit note as printed, with every amount already rounded.

    Amounts carry the currency's minor units (JPY 0, EUR 2, BHD 3); `check_adds_up` proves
    that every total is the sum of what is printed above it.
    """

    kind: DocumentKind
    number: str
    issue_date: date
    due_date: date | None
    credited_invoice_number: str | None = None
    """On a credit note: the number of the invoice it credits."""
    currency: str
    minor_units: int
    firm: Party
    client: Party
    period: str | None = None
    """What the document covers, for example "October 2026" or a case reference."""
    lines: tuple[DocumentLine, ...] = field(converter=_document_lines)
    discount: DiscountLine | None = None
    net: Decimal
    tax_lines: tuple[TaxLine, ...] = field(default=(), converter=_tax_lines)
    gross: Decimal
    notes: tuple[str, ...] = field(default=(), converter=_lines_of_text)
    """Payment terms, bank details, anything printed after the totals."""
    amount_credited: Decimal | None = None
    """On an invoice printed after credit notes: what they took off it."""
    amount_paid: Decimal | None = None
    balance_due: Decimal | None = None
    """Printed with the amount paid and/or credited: the total less both."""

    def __attrs_post_init__(self) -> None:
        if not self.number.strip():
            raise InvalidInput("A document needs its number.")
        if not _CURRENCY_CODE.fullmatch(self.currency):
            raise InvalidInput(f"{self.currency!r} is not an ISO 4217 currency code.")
        if not 0 <= self.minor_units <= MAX_MINOR_UNITS:
            raise InvalidInput(f"A currency has 0 to {MAX_MINOR_UNITS} minor units.")
        if self.kind is DocumentKind.CREDIT_NOTE and not self.credited_invoice_number:
            raise InvalidInput("A credit note names the invoice it credits.")
        if self.kind is DocumentKind.INVOICE and self.credited_invoice_number is not None:
            raise InvalidInput("Only a credit note credits an invoice.")
        if self.due_date is not None and self.due_date < self.issue_date:
            raise InvalidInput("A document cannot fall due before it is issued.")
        settled = self.amount_paid is not None or self.amount_credited is not None
        if settled != (self.balance_due is not None):
            raise InvalidInput(
                "The balance due is printed exactly when an amount paid or credited is."
            )

    @property
    def title(self) -> str:
        return self.kind.heading

    def amounts(self) -> Iterable[tuple[str, Decimal]]:
        """Every printed amount of money (not the rates) with a name for error messages."""
        for index, line in enumerate(self.lines, start=1):
            yield f"line {index}", line.amount
        if self.discount is not None:
            yield "the discount", self.discount.amount
        yield "the net", self.net
        for tax in self.tax_lines:
            yield f"the {tax.label} base", tax.base
            yield f"the {tax.label} amount", tax.amount
        yield "the total", self.gross
        if self.amount_credited is not None:
            yield "the amount credited", self.amount_credited
        if self.amount_paid is not None:
            yield "the amount paid", self.amount_paid
        if self.balance_due is not None:
            yield "the balance due", self.balance_due

    def format_amount(self, amount: Decimal) -> str:
        """`amount` with thousands separators and the currency's minor units: "1,234.50"."""
        return format_amount(amount, self.minor_units)

    def format_money(self, amount: Decimal) -> str:
        """`amount` with its currency: "€1,234.50", "-€45.00", "BHD 12.345"."""
        return format_money(amount, self.currency, self.minor_units)


class InvoiceRenderer(Protocol):
    """Turns a document into a printable file (a PDF); the same document gives the same bytes."""

    def render(self, document: InvoiceDocument) -> bytes:
        """Raises InvalidInput when `document` does not add up."""
        ...


def hours_of(minutes: int) -> Decimal:
    """Minutes as hours rounded to two places, for printing only (7 min is 0.12 h)."""
    return (Decimal(minutes) / MINUTES_PER_HOUR).quantize(HOURS_EXPONENT)


def decimal_places(amount: Decimal) -> int:
    """How many digits `amount` carries after the point: 2 for 12.50, 0 for 12 or 1.2E+3."""
    exponent = amount.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def format_amount(amount: Decimal, minor_units: int) -> str:
    if not amount.is_finite():
        raise InvalidInput(f"{amount} is not an amount.")
    if decimal_places(amount) > minor_units:
        raise InvalidInput(f"{amount} has more than {minor_units} decimal places.")
    return f"{amount:,.{minor_units}f}"


def format_money(amount: Decimal, currency: str, minor_units: int) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{format_amount(abs(amount), minor_units)}"


def check_adds_up(document: InvoiceDocument) -> None:
    """Refuse a document whose totals are not the sums of the printed lines above them.

    Raises InvalidInput naming the first total that does not add up.
    """
    if not document.lines:
        raise InvalidInput(f"{document.title} {document.number} has no lines.")
    for name, amount in document.amounts():
        _check_rounded(document, name, amount)
    for index, line in enumerate(document.lines, start=1):
        # A rate may be finer than the currency (half a yen an hour), but it is a number.
        if line.rate is not None and not line.rate.is_finite():
            raise InvalidInput(f"The rate of line {index} of {document.number} is not a number.")
        _check_billed_time(index, line)
    expected_net = sum((line.amount for line in document.lines), Decimal(0))
    if document.discount is not None:
        expected_net += document.discount.amount
    _check_total(document, "the net", document.net, expected_net)
    if document.tax_lines:
        bases = sum((tax.base for tax in document.tax_lines), Decimal(0))
        _check_total(document, "the sum of the tax bases", bases, document.net)
    taxes = sum((tax.amount for tax in document.tax_lines), Decimal(0))
    _check_total(document, "the total", document.gross, document.net + taxes)
    if document.balance_due is not None:
        settled = (document.amount_paid or Decimal(0)) + (document.amount_credited or Decimal(0))
        _check_total(document, "the balance due", document.balance_due, document.gross - settled)


def _check_rounded(document: InvoiceDocument, name: str, amount: Decimal) -> None:
    if not amount.is_finite():
        raise InvalidInput(f"{name.capitalize()} of {document.number} is not a number.")
    if decimal_places(amount) > document.minor_units:
        raise InvalidInput(
            f"{name.capitalize()} of {document.number} ({amount}) is not rounded to "
            f"{document.minor_units} decimal places of {document.currency}."
        )


def _check_billed_time(index: int, line: DocumentLine) -> None:
    """Entries listed with their billed minutes add up to the line's (per-case rounding lists
    none, and time shown but not charged is not part of the line's)."""
    billed = [entry.billed_minutes for entry in line.entries if entry.billable]
    if line.billed_minutes is None or not billed:
        return
    listed = [minutes for minutes in billed if minutes is not None]
    if len(listed) == len(billed) and sum(listed) != line.billed_minutes:
        raise InvalidInput(
            f"Line {index} bills {line.billed_minutes} minutes but its billable entries "
            f"add up to {sum(listed)}."
        )


def _check_total(document: InvoiceDocument, name: str, printed: Decimal, expected: Decimal) -> None:
    if printed != expected:
        raise InvalidInput(
            f"{name.capitalize()} of {document.title.lower()} {document.number} is "
            f"{printed} but the lines above it add up to {expected}."
        )


# --- from the billing rules' invoices and credit notes -----------------------------------------


def invoice_document(
    invoice: Invoice,
    *,
    firm: Party,
    client: Party,
    staff_names: Mapping[str, str],
    case_references: Mapping[str, str] | None = None,
    tax_label: str = "VAT",
    notes: Sequence[str] | None = None,
    with_settlement: bool = False,
) -> InvoiceDocument:
    """The printable form of an issued invoice.

    `staff_names` maps staff ids to the names printed beside their time entries;
    `case_references` maps case ids to the references shown with lines and per-case invoices.
    `notes` default to the payment terms. `with_settlement` adds what was paid and credited and
    the balance due (for a copy printed later; the issued original shows neither).
    """
    if invoice.number is None or invoice.issue_date is None:
        raise InvalidTransition("A draft is not printed; issue it first.")
    references = case_references or {}
    lines: list[DocumentLine] = []
    discounts: list[DiscountLine] = []
    for line in invoice.lines:
        if line.kind is LineKind.DISCOUNT:
            discounts.append(DiscountLine(description=line.description, amount=line.amount.amount))
            continue
        lines.append(
            DocumentLine(
                description=line.description,
                amount=line.amount.amount,
                case_reference=references.get(line.case_id) if line.case_id else None,
                role=line.role,
                billed_minutes=line.minutes,
                rate=None if line.rate is None else line.rate.amount,
                entries=tuple(
                    _printed_entry(
                        entry, staff_names, billable=line.kind is not LineKind.NOT_CHARGED
                    )
                    for entry in line.entries
                ),
            )
        )
    if invoice.period is not None:
        period: str | None = invoice.period.label()
    elif invoice.case_id is not None:
        period = references.get(invoice.case_id)
    else:
        period = None
    if notes is None:
        notes = _payment_terms(invoice.number, invoice.due_date)
    settled = invoice.amount_credited if not invoice.amount_credited.is_zero else None
    return InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        minor_units=invoice.gross.minor_units,
        firm=firm,
        client=client,
        period=period,
        lines=lines,
        discount=_single_discount(discounts, invoice.number),
        net=invoice.net.amount,
        tax_lines=tuple(
            TaxLine(
                label=tax_label,
                rate=tax.rate_percent / 100,
                base=tax.base.amount,
                amount=tax.amount.amount,
                note=tax.note or None,
            )
            for tax in invoice.calculation.tax_lines
        ),
        gross=invoice.gross.amount,
        notes=notes,
        amount_credited=settled.amount if with_settlement and settled is not None else None,
        amount_paid=invoice.amount_paid.amount if with_settlement else None,
        balance_due=invoice.balance_due.amount if with_settlement else None,
    )


def credit_note_document(
    credit_note: CreditNote,
    invoice: Invoice,
    *,
    firm: Party,
    client: Party,
    case_references: Mapping[str, str] | None = None,
    tax_label: str = "VAT",
    notes: Sequence[str] | None = None,
) -> InvoiceDocument:
    """The printable form of `credit_note`, which credits `invoice` (for its lines' details and
    tax rate). Amounts are printed as credited, positive; a credited discount stays negative.
    Hours and rate are shown only for lines credited in full."""
    if credit_note.invoice_id != invoice.id:
        raise InvalidInput(f"Credit note {credit_note.number} does not credit this invoice.")
    references = case_references or {}
    lines: list[DocumentLine] = []
    discounts: list[DiscountLine] = []
    for credited in credit_note.lines:
        original = invoice.calculation.line(credited.invoice_line)
        amount = credited.amount.amount
        if original.kind is LineKind.DISCOUNT:
            discounts.append(DiscountLine(description=credited.description, amount=amount))
            continue
        in_full = credited.amount == original.amount
        lines.append(
            DocumentLine(
                description=credited.description,
                amount=amount,
                case_reference=references.get(original.case_id) if original.case_id else None,
                role=original.role,
                billed_minutes=original.minutes if in_full else None,
                rate=original.rate.amount if in_full and original.rate is not None else None,
            )
        )
    rates = invoice.calculation.tax_lines
    tax_lines = (
        (
            TaxLine(
                label=tax_label,
                rate=rates[0].rate_percent / 100,
                base=credit_note.net.amount,
                amount=credit_note.tax.amount,
                note=rates[0].note or None,
            ),
        )
        if rates
        else ()
    )
    if notes is None:
        notes = (f"Reason: {credit_note.reason}",) if credit_note.reason.strip() else ()
    return InvoiceDocument(
        kind=DocumentKind.CREDIT_NOTE,
        number=credit_note.number,
        issue_date=credit_note.issue_date,
        due_date=None,
        credited_invoice_number=credit_note.invoice_number,
        currency=credit_note.currency,
        minor_units=credit_note.tax.minor_units,
        firm=firm,
        client=client,
        lines=lines,
        discount=_single_discount(discounts, credit_note.number),
        net=credit_note.net.amount,
        tax_lines=tax_lines,
        gross=credit_note.gross.amount,
        notes=notes,
    )


def _printed_entry(
    entry: BilledEntry, staff_names: Mapping[str, str], *, billable: bool
) -> PrintedTimeEntry:
    try:
        name = staff_names[entry.staff_id]
    except KeyError:
        raise InvalidInput(f"No name to print for staff member {entry.staff_id}.") from None
    return PrintedTimeEntry(
        date=entry.work_date,
        staff_name=name,
        description=entry.description,
        raw_minutes=entry.raw_minutes,
        billed_minutes=entry.billed_minutes,
        billable=billable,
    )


def _single_discount(discounts: Sequence[DiscountLine], number: str) -> DiscountLine | None:
    if len(discounts) > 1:
        raise InvalidInput(f"{number} has {len(discounts)} discount lines; one is printed.")
    return discounts[0] if discounts else None


def _payment_terms(number: str, due_date: date | None) -> tuple[str, ...]:
    if due_date is None:
        return ()
    return (f"Please pay by {due_date.isoformat()}, quoting {number}.",)
