"""Invoices and credit notes: their printed lines, their totals, and their lifecycle.

Lines and totals: an `InvoiceCalculation` is made only from its lines and tax lines, so the net
is always the exact sum of the printed lines, the tax the sum of the tax lines, and the gross
exactly net + tax.

Lifecycle (stored facts, derived status): an invoice stores the facts (its number and issue
date once issued, its payments, what credit notes have taken off it); its `status` is derived
from them, so it can never disagree with them:
  draft           not issued yet; recomputed freely; seen by staff only
  issued          numbered, immutable content, nothing paid
  partially_paid  something paid, something still due
  paid            nothing left due and something was paid
  credited        nothing left due and nothing was paid: fully credited (voided)
  overdue         issued or partially paid and past its due date (`status_on(today)` only)
Once issued, lines, totals, number and dates never change (InvalidTransition); only payments,
credits and the rendered document are added. Payments beyond the balance are kept in full and
show as `overpaid` (a credit the firm owes the client): money is never dropped. A refund is a
negative payment that pays such a credit back (`with_refund`), never more than it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from attrs import evolve, field, frozen

from portal_core.billing.money import CurrencyMismatch, Money, total
from portal_core.billing.periods import BillingPeriod
from portal_core.errors import Conflict, InvalidInput, InvalidTransition


class LineKind(enum.StrEnum):
    TIME = "time"
    """Charged time of one case, role and rate."""
    NOT_CHARGED = "not_charged"
    """Non-billable time: work done, shown at zero."""
    INCLUDED = "included"
    """Time covered by a retainer's fee, shown at zero."""
    INFORMATION = "information"
    """Time on a fixed-fee case, shown at zero for information."""
    FIXED_FEE = "fixed_fee"
    RETAINER_FEE = "retainer_fee"
    OVERAGE = "overage"
    CAP = "cap"
    """Negative: brings a case down to its cap ("Cap applied")."""
    DISCOUNT = "discount"
    """Negative: the contract's discount on the net."""


@frozen(kw_only=True)
class BilledEntry:
    """A time entry as listed beneath its line: raw minutes as logged, and what was billed."""

    entry_id: str
    work_date: date
    staff_id: str
    role: str
    description: str
    raw_minutes: int
    billed_minutes: int | None
    """None when the contract rounds per case: then only the line carries billed minutes."""


@frozen(kw_only=True)
class InvoiceLine:
    number: int
    """Position on the invoice, from 1; credit notes name lines by it."""
    kind: LineKind
    description: str
    amount: Money
    case_id: str | None = None
    role: str | None = None
    rate: Money | None = None
    """Per hour, for lines priced by time."""
    minutes: int | None = None
    """Billed minutes the amount is computed from (for zero lines: the work shown)."""
    entries: tuple[BilledEntry, ...] = ()

    @property
    def hours(self) -> Decimal | None:
        return None if self.minutes is None else Decimal(self.minutes) / 60


@frozen(kw_only=True)
class TaxLine:
    rate_percent: Decimal
    base: Money
    """The net lines this tax is computed on."""
    amount: Money
    note: str = ""


@frozen(kw_only=True)
class InvoiceCalculation:
    """What an invoice charges, line by line. Build it with `of`, which makes the totals."""

    currency: str
    lines: tuple[InvoiceLine, ...]
    tax_lines: tuple[TaxLine, ...]
    net: Money
    tax: Money
    gross: Money
    carry_forward_minutes: int = 0
    """Retainer: unused included minutes carried into the next month."""

    @classmethod
    def of(
        cls,
        currency: str,
        lines: Iterable[InvoiceLine],
        tax_lines: Iterable[TaxLine],
        *,
        carry_forward_minutes: int = 0,
    ) -> InvoiceCalculation:
        lines = tuple(lines)
        tax_lines = tuple(tax_lines)
        net = total([line.amount for line in lines], currency)
        tax = total([line.amount for line in tax_lines], currency)
        return cls(
            currency=currency,
            lines=lines,
            tax_lines=tax_lines,
            net=net,
            tax=tax,
            gross=net + tax,
            carry_forward_minutes=carry_forward_minutes,
        )

    @property
    def entry_ids(self) -> frozenset[str]:
        """Every time entry this calculation lists, charged or shown at zero."""
        return frozenset(entry.entry_id for line in self.lines for entry in line.entries)

    def line(self, number: int) -> InvoiceLine:
        for line in self.lines:
            if line.number == number:
                return line
        raise InvalidInput(f"The invoice has no line {number}.")

    def net_for_case(self, case_id: str) -> Money:
        """What this invoice charges for one case, before discount and tax (cap included)."""
        return total([line.amount for line in self.lines if line.case_id == case_id], self.currency)


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CREDITED = "credited"
    OVERDUE = "overdue"


@frozen(kw_only=True)
class Payment:
    id: str
    amount: Money
    received_on: date
    reference: str
    """The payer's or the gateway's reference; the same reference is never recorded twice."""
    recorded_at: datetime

    def __attrs_post_init__(self) -> None:
        # Negative: a refund of money the client held as credit (see `Invoice.with_refund`).
        if self.amount.is_zero or not self.amount.is_rounded:
            raise InvalidInput("A payment is a positive amount in whole minor units.")
        if not self.reference.strip():
            raise InvalidInput("A payment needs a reference.")

    @property
    def is_refund(self) -> bool:
        return self.amount.is_negative


@frozen(kw_only=True)
class Invoice:
    id: str
    organisation_id: str
    contract_id: str
    billing_key: str
    """What the invoice covers, unique per organisation: "period:2026-10" or "case:<id>"."""
    case_id: str | None = None
    period: BillingPeriod | None = None
    calculation: InvoiceCalculation
    created_at: datetime
    updated_at: datetime
    number: str | None = None
    issued_at: datetime | None = None
    issue_date: date | None = None
    due_date: date | None = None
    payments: tuple[Payment, ...] = ()
    amount_credited: Money = field()
    document_key: str | None = None
    """Where the issued invoice's PDF is stored."""
    document_sha256: str | None = None
    version: int = 1

    @amount_credited.default
    def _no_credit(self) -> Money:
        return Money.zero(self.calculation.currency)

    @classmethod
    def draft(
        cls,
        *,
        invoice_id: str,
        organisation_id: str,
        contract_id: str,
        calculation: InvoiceCalculation,
        at: datetime,
        case_id: str | None = None,
        period: BillingPeriod | None = None,
        billing_key: str | None = None,
    ) -> Invoice:
        if case_id is not None and period is None:
            key = billing_key or f"case:{case_id}"
        elif period is not None and case_id is None:
            key = billing_key or f"period:{period.key}"
        else:
            raise InvalidInput("An invoice covers either one case or one month.")
        return cls(
            id=invoice_id,
            organisation_id=organisation_id,
            contract_id=contract_id,
            billing_key=key,
            case_id=case_id,
            period=period,
            calculation=calculation,
            created_at=at,
            updated_at=at,
        )

    # what it says

    @property
    def currency(self) -> str:
        return self.calculation.currency

    @property
    def lines(self) -> tuple[InvoiceLine, ...]:
        return self.calculation.lines

    @property
    def net(self) -> Money:
        return self.calculation.net

    @property
    def tax(self) -> Money:
        return self.calculation.tax

    @property
    def gross(self) -> Money:
        return self.calculation.gross

    @property
    def is_draft(self) -> bool:
        return self.number is None

    @property
    def amount_paid(self) -> Money:
        return total([payment.amount for payment in self.payments], self.currency)

    @property
    def balance_due(self) -> Money:
        """What the client still owes; negative when they paid more than was due."""
        return self.gross - self.amount_credited - self.amount_paid

    @property
    def overpaid(self) -> Money:
        """What the client paid beyond the balance: owed back to them, never dropped."""
        balance = self.balance_due
        return -balance if balance.is_negative else Money.zero(self.currency)

    @property
    def status(self) -> InvoiceStatus:
        if self.is_draft:
            return InvoiceStatus.DRAFT
        # Refunds count against payments: paid 540.00, credited and refunded in full is credited.
        paid = self.amount_paid.amount > 0
        if self.balance_due.amount <= 0:
            return InvoiceStatus.PAID if paid else InvoiceStatus.CREDITED
        return InvoiceStatus.PARTIALLY_PAID if paid else InvoiceStatus.ISSUED

    def status_on(self, day: date) -> InvoiceStatus:
        """The status as shown on `day` (firm calendar): unpaid past the due date is overdue."""
        status = self.status
        if (
            status in (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)
            and self.due_date is not None
            and day > self.due_date
        ):
            return InvoiceStatus.OVERDUE
        return status

    # what may happen to it

    def _require_draft(self, doing: str) -> None:
        if not self.is_draft:
            raise InvalidTransition(
                f"Invoice {self.number} is issued and cannot be {doing}; "
                "correct it with a credit note."
            )

    def recomputed(
        self, calculation: InvoiceCalculation, *, contract_id: str, at: datetime
    ) -> Invoice:
        """The draft with a fresh calculation (under the contract now in force)."""
        self._require_draft("changed")
        if calculation.currency != self.currency:
            raise CurrencyMismatch(
                f"This draft is in {self.currency}; the contract now bills in "
                f"{calculation.currency}. Credit or delete the draft's time first."
            )
        return evolve(
            self,
            calculation=calculation,
            contract_id=contract_id,
            updated_at=at,
            version=self.version + 1,
        )

    def issued(self, *, number: str, at: datetime, issue_date: date, terms_days: int) -> Invoice:
        self._require_draft("issued again")
        return evolve(
            self,
            number=number,
            issued_at=at,
            issue_date=issue_date,
            due_date=issue_date + timedelta(days=terms_days),
            updated_at=at,
            version=self.version + 1,
        )

    def with_payment(self, payment: Payment) -> Invoice:
        if payment.is_refund:
            raise InvalidInput("A payment is a positive amount in whole minor units.")
        return self._with(payment)

    def with_refund(self, refund: Payment) -> Invoice:
        """Money paid back to the client: a negative payment, never more than the credit the
        client holds (`overpaid`: paid beyond the balance, or credited after payment by a
        credit note), so a refund can never make the client owe the invoice again."""
        if not refund.is_refund:
            raise InvalidInput("A refund is a negative payment.")
        if refund.amount.currency == self.currency and -refund.amount > self.overpaid:
            raise InvalidInput(
                f"Invoice {self.number} holds {self.overpaid} of credit for the client; "
                f"a refund of {-refund.amount} needs a credit note first."
            )
        return self._with(refund)

    def _with(self, payment: Payment) -> Invoice:
        if self.is_draft:
            raise InvalidTransition("A draft cannot be paid; issue it first.")
        if payment.amount.currency != self.currency:
            raise CurrencyMismatch(f"Invoice {self.number} is payable in {self.currency}.")
        if any(p.reference == payment.reference for p in self.payments):
            raise Conflict(f"Payment {payment.reference} is recorded already.")
        return evolve(
            self,
            payments=(*self.payments, payment),
            updated_at=payment.recorded_at,
            version=self.version + 1,
        )

    def with_credit(self, amount: Money, *, at: datetime) -> Invoice:
        if self.is_draft:
            raise InvalidTransition("A draft is recomputed, never credited.")
        if (self.amount_credited + amount) > self.gross:
            raise InvalidInput(
                f"Invoice {self.number} was for {self.gross}; at most "
                f"{self.gross - self.amount_credited} can still be credited."
            )
        return evolve(
            self,
            amount_credited=self.amount_credited + amount,
            updated_at=at,
            version=self.version + 1,
        )

    def with_document(self, *, key: str, sha256: str, at: datetime) -> Invoice:
        """Record the issued invoice's rendered PDF, once."""
        if self.is_draft:
            raise InvalidTransition("Only an issued invoice has its document stored.")
        if self.document_key is not None:
            raise InvalidTransition(f"Invoice {self.number} has its document already.")
        return evolve(
            self, document_key=key, document_sha256=sha256, updated_at=at, version=self.version + 1
        )


@frozen(kw_only=True)
class CreditNoteLine:
    invoice_line: int
    """The number of the invoice line credited."""
    description: str
    amount: Money
    """The net amount credited, positive: what the invoice line charged, or part of it."""


@frozen(kw_only=True)
class CreditNote:
    """A correction of an issued invoice, in its own gap-free number series."""

    id: str
    number: str
    invoice_id: str
    invoice_number: str
    organisation_id: str
    lines: tuple[CreditNoteLine, ...]
    tax: Money
    reason: str
    issued_at: datetime
    issue_date: date
    document_key: str | None = None
    document_sha256: str | None = None

    @property
    def currency(self) -> str:
        return self.tax.currency

    @property
    def net(self) -> Money:
        return total([line.amount for line in self.lines], self.currency)

    @property
    def gross(self) -> Money:
        return self.net + self.tax

    def with_document(self, *, key: str, sha256: str) -> CreditNote:
        if self.document_key is not None:
            raise InvalidTransition(f"Credit note {self.number} has its document already.")
        return evolve(self, document_key=key, document_sha256=sha256)
