"""Receivables: what clients owe, how late it is (aging), and days sales outstanding (DSO).

Outstanding on a day: an issued invoice's gross, less the payments received and the credit
notes issued up to and including that day. Aging puts each invoice's outstanding amount in a
bucket by days past its due date: current (not yet due), 1-30, 31-60, 61-90, over 90; per
client organisation, and per case. A monthly invoice covers several cases: its outstanding
amount is shared among them in proportion to each case's net lines, in whole minor units by
largest remainder, so that the shares are never negative and add up exactly; what no case
line explains (an invoice with only a retainer fee) is shown under no case (None).
Overpayments are not receivables: an invoice paid beyond its gross counts as zero here and is
reported as a credit owed to the client instead.

DSO for a period = receivables at its end / invoiced in the period × days in the period, where
"invoiced" is the gross of invoices issued in the period less credit notes issued in it. Every
figure is per currency: amounts in different currencies are never added together.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from attrs import frozen

from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.money import Money, total
from portal_core.errors import InvalidInput


class AgingBucket(enum.StrEnum):
    CURRENT = "current"
    DAYS_1_30 = "1-30"
    DAYS_31_60 = "31-60"
    DAYS_61_90 = "61-90"
    OVER_90 = "over 90"

    @classmethod
    def for_days_past_due(cls, days: int) -> AgingBucket:
        if days <= 0:
            return cls.CURRENT
        if days <= 30:
            return cls.DAYS_1_30
        if days <= 60:
            return cls.DAYS_31_60
        if days <= 90:
            return cls.DAYS_61_90
        return cls.OVER_90


def outstanding_on(invoice: Invoice, credit_notes: Sequence[CreditNote], day: date) -> Money:
    """What the client still owed on `day` for `invoice` (zero before it was issued, never
    negative)."""
    zero = Money.zero(invoice.currency)
    if invoice.issue_date is None or invoice.issue_date > day:
        return zero
    paid = total([p.amount for p in invoice.payments if p.received_on <= day], invoice.currency)
    credited = total(
        [c.gross for c in credit_notes if c.invoice_id == invoice.id and c.issue_date <= day],
        invoice.currency,
    )
    return max(invoice.gross - paid - credited, zero)


@frozen(kw_only=True)
class AgingRow:
    """Outstanding amounts of one client (or one case of it), in one currency, by bucket."""

    organisation_id: str
    case_id: str | None
    currency: str
    buckets: tuple[tuple[AgingBucket, Money], ...]

    @property
    def total(self) -> Money:
        return total([amount for _, amount in self.buckets], self.currency)

    def amount(self, bucket: AgingBucket) -> Money:
        return dict(self.buckets)[bucket]


def share_by_case(invoice: Invoice, amount: Money) -> list[tuple[str | None, Money]]:
    """`amount` shared among the invoice's cases by their net lines; the shares sum exactly."""
    if invoice.case_id is not None:
        return [(invoice.case_id, amount)]
    weights: dict[str, Decimal] = defaultdict(Decimal)
    for line in invoice.lines:
        if line.case_id is not None:
            weights[line.case_id] += line.amount.amount
    positive = {case_id: w for case_id, w in weights.items() if w > 0}
    whole = sum(positive.values(), Decimal(0))
    if not positive or whole <= 0:
        return [(None, amount)]
    # Largest remainder: every share rounded down to the minor unit, then the units left over
    # go one each to the shares that lost the most, so shares are never negative and add up.
    quantum = amount.quantum
    units = int(amount.amount / quantum)
    exact = {case_id: units * weight / whole for case_id, weight in positive.items()}
    floors = {case_id: int(value) for case_id, value in exact.items()}
    left = units - sum(floors.values())
    for case_id in sorted(exact, key=lambda c: (floors[c] - exact[c], c))[:left]:
        floors[case_id] += 1
    return [
        (case_id, Money(floors[case_id] * quantum, amount.currency)) for case_id in sorted(floors)
    ]


def aging(
    invoices: Sequence[Invoice],
    credit_notes: Sequence[CreditNote],
    *,
    on: date,
    by_case: bool = False,
) -> list[AgingRow]:
    """Aging rows per organisation (or per organisation and case), one per currency, sorted."""
    sums: dict[tuple[str, str | None, str], dict[AgingBucket, Money]] = {}
    for invoice in invoices:
        owed = outstanding_on(invoice, credit_notes, on)
        if owed.is_zero or invoice.due_date is None:
            continue
        bucket = AgingBucket.for_days_past_due((on - invoice.due_date).days)
        parts = share_by_case(invoice, owed) if by_case else [(None, owed)]
        for case_id, part in parts:
            key = (invoice.organisation_id, case_id, invoice.currency)
            row = sums.setdefault(key, {b: Money.zero(invoice.currency) for b in AgingBucket})
            row[bucket] = row[bucket] + part
    return [
        AgingRow(
            organisation_id=organisation_id,
            case_id=case_id,
            currency=currency,
            buckets=tuple((bucket, row[bucket]) for bucket in AgingBucket),
        )
        for (organisation_id, case_id, currency), row in sorted(
            sums.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2])
        )
    ]


@frozen(kw_only=True)
class DaysSalesOutstanding:
    currency: str
    receivables: Money
    invoiced: Money
    days: int
    value: Decimal | None
    """In days, to one decimal; None when nothing was invoiced in the period."""


def days_sales_outstanding(
    invoices: Sequence[Invoice],
    credit_notes: Sequence[CreditNote],
    *,
    start: date,
    end: date,
) -> list[DaysSalesOutstanding]:
    """DSO for the period from `start` to `end` (both included), per currency."""
    if end < start:
        raise InvalidInput("A period ends on or after the day it starts.")
    days = (end - start).days + 1
    currencies = sorted({i.currency for i in invoices if i.issue_date is not None})
    results = []
    for currency in currencies:
        mine = [i for i in invoices if i.currency == currency]
        receivables = total([outstanding_on(i, credit_notes, end) for i in mine], currency)
        issued = total(
            [i.gross for i in mine if i.issue_date is not None and start <= i.issue_date <= end],
            currency,
        )
        credited = total(
            [
                c.gross
                for c in credit_notes
                if c.currency == currency and start <= c.issue_date <= end
            ],
            currency,
        )
        invoiced = issued - credited
        value = (
            (receivables.amount / invoiced.amount * days).quantize(
                Decimal("0.1"), rounding=ROUND_HALF_UP
            )
            if invoiced.amount > 0
            else None
        )
        results.append(
            DaysSalesOutstanding(
                currency=currency,
                receivables=receivables,
                invoiced=invoiced,
                days=days,
                value=value,
            )
        )
    return results


def overpayments(invoices: Sequence[Invoice]) -> list[tuple[Invoice, Money]]:
    """Invoices paid beyond what was due, with the amount owed back to the client."""
    return [(i, i.overpaid) for i in invoices if not i.is_draft and not i.overpaid.is_zero]
