"""The printable invoice or credit note: exactly what a PDF shows, and the check that it adds up.

The billing rules compute and round every amount; this model only carries the results to a
renderer, so a renderer formats and lays out but never calculates. `check_adds_up` is the last
guard before anything is printed: every total must equal the sum of the printed lines above it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Protocol

from attrs import field, frozen

from portal_core.errors import InvalidInput

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
    amount_paid: Decimal | None = None
    balance_due: Decimal | None = None

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
        if (self.amount_paid is None) != (self.balance_due is None):
            raise InvalidInput("The amount paid and the balance due are printed together.")

    @property
    def title(self) -> str:
        return self.kind.heading

    def amounts(self) -> Iterable[tuple[str, Decimal]]:
        """Every printed amount with a name for error messages."""
        for index, line in enumerate(self.lines, start=1):
            yield f"line {index}", line.amount
            if line.rate is not None:
                yield f"the rate of line {index}", line.rate
        if self.discount is not None:
            yield "the discount", self.discount.amount
        yield "the net", self.net
        for tax in self.tax_lines:
            yield f"the {tax.label} base", tax.base
            yield f"the {tax.label} amount", tax.amount
        yield "the total", self.gross
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
    if document.amount_paid is not None and document.balance_due is not None:
        _check_total(
            document,
            "the balance due",
            document.balance_due,
            document.gross - document.amount_paid,
        )


def _check_rounded(document: InvoiceDocument, name: str, amount: Decimal) -> None:
    if not amount.is_finite():
        raise InvalidInput(f"{name.capitalize()} of {document.number} is not a number.")
    if name.startswith("the rate"):
        return  # rates may be finer than the currency (0.5 yen an hour is a valid rate)
    if decimal_places(amount) > document.minor_units:
        raise InvalidInput(
            f"{name.capitalize()} of {document.number} ({amount}) is not rounded to "
            f"{document.minor_units} decimal places of {document.currency}."
        )


def _check_billed_time(index: int, line: DocumentLine) -> None:
    billed = [entry.billed_minutes for entry in line.entries if entry.billable]
    if line.billed_minutes is None or not billed or None in billed:
        return
    if sum(minutes for minutes in billed if minutes is not None) != line.billed_minutes:
        raise InvalidInput(
            f"Line {index} bills {line.billed_minutes} minutes but its billable entries "
            f"add up to {sum(m for m in billed if m is not None)}."
        )


def _check_total(document: InvoiceDocument, name: str, printed: Decimal, expected: Decimal) -> None:
    if printed != expected:
        raise InvalidInput(
            f"{name.capitalize()} of {document.title.lower()} {document.number} is "
            f"{printed} but the lines above it add up to {expected}."
        )
