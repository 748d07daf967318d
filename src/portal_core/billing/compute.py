"""Computing an invoice: pure functions from a contract and time entries to printed lines.

The rules, in the order they are applied:
1. Time lines: one line per case, role and rate; amount = round(billed minutes × rate / 60),
   rounded once per line. The entries are listed beneath their line with their billed minutes.
   Non-billable entries get their own line per case and role at zero: work done, not charged.
2. The contract kind:
   - hourly: time lines are charged; with a cap per case, when the case's charges (on this and
     earlier invoices) pass the cap, every line stays and one negative "Cap applied" line
     brings the case to the cap;
   - retainer: the monthly fee is one line; time is shown at zero as included; billed minutes
     of the month beyond the included ones (plus any carried over) are one overage line at the
     overage rate, rounded once;
   - fixed fee: one charged line per case at its price; its time is shown at zero for
     information.
3. Discount: one negative line, round(net × percent / 100), on everything above it.
4. Tax: scope `invoice` rounds once per rate on the sum of the net lines; scope `line` rounds
   each line's tax and sums them.
Totals are made by `InvoiceCalculation.of`, from the printed lines only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from attrs import frozen

from portal_core.billing.contract import (
    Contract,
    FixedFeeTerms,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
    TaxScope,
)
from portal_core.billing.invoice import (
    BilledEntry,
    InvoiceCalculation,
    InvoiceLine,
    LineKind,
    TaxLine,
)
from portal_core.billing.money import Money, MoneyRounding, total
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.rounding import RoundingScope
from portal_core.billing.time_entries import TimeEntry
from portal_core.errors import InvalidInput

MINUTES_PER_HOUR = 60


@frozen(kw_only=True)
class CaseBilling:
    """What billing needs to know about one case, besides its time."""

    case_id: str
    label: str
    """How the case is named on the invoice, e.g. "C-000012 Annual accounts"."""
    fixed_fee: Money | None = None
    """Fixed-fee contracts: the price to charge on this invoice (None: nothing to charge)."""
    charged_before: Money | None = None
    """Hourly contracts with a cap: what earlier invoices charged for the case (cap included)."""


def hours_text(minutes: int) -> str:
    return f"{Decimal(minutes) / MINUTES_PER_HOUR:.2f} h"


def time_amount(minutes: int, rate: Money, mode: MoneyRounding) -> Money:
    """round(minutes × rate / 60): the one rounding of a line priced by time."""
    return Money(rate.amount * minutes / MINUTES_PER_HOUR, rate.currency).rounded(mode)


@frozen(kw_only=True)
class _Group:
    case_id: str
    role: str
    entries: tuple[TimeEntry, ...]


def _groups(entries: Sequence[TimeEntry]) -> list[_Group]:
    """Entries by case and role, in order of first appearance (entries come date-ordered)."""
    grouped: dict[tuple[str, str], list[TimeEntry]] = defaultdict(list)
    for entry in entries:
        grouped[(entry.case_id, entry.role)].append(entry)
    return [_Group(case_id=c, role=r, entries=tuple(es)) for (c, r), es in grouped.items()]


def _billed_entries(
    entries: Sequence[TimeEntry], shares: Sequence[int] | None
) -> tuple[BilledEntry, ...]:
    return tuple(
        BilledEntry(
            entry_id=entry.id,
            work_date=entry.work_date,
            staff_id=entry.staff_id,
            role=entry.role,
            description=entry.description,
            raw_minutes=entry.minutes,
            billed_minutes=None if shares is None else shares[index],
        )
        for index, entry in enumerate(entries)
    )


class _Lines:
    """Numbers lines as they are added, so that line numbers follow the printed order."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.lines: list[InvoiceLine] = []

    def add(
        self,
        kind: LineKind,
        description: str,
        amount: Money,
        *,
        case_id: str | None = None,
        role: str | None = None,
        rate: Money | None = None,
        minutes: int | None = None,
        entries: tuple[BilledEntry, ...] = (),
    ) -> InvoiceLine:
        line = InvoiceLine(
            number=len(self.lines) + 1,
            kind=kind,
            description=description,
            amount=amount,
            case_id=case_id,
            role=role,
            rate=rate,
            minutes=minutes,
            entries=entries,
        )
        self.lines.append(line)
        return line

    def total(self) -> Money:
        return total([line.amount for line in self.lines], self.currency)


def _check_entries(contract: Contract, entries: Iterable[TimeEntry]) -> list[TimeEntry]:
    checked = list(entries)
    seen: set[str] = set()
    for entry in checked:
        if entry.organisation_id != contract.organisation_id:
            raise InvalidInput(f"Time entry {entry.id} belongs to another organisation.")
        if entry.id in seen:
            raise InvalidInput(f"Time entry {entry.id} is listed twice.")
        seen.add(entry.id)
    return checked


def _case_order(entries: Sequence[TimeEntry], cases: Mapping[str, CaseBilling]) -> list[str]:
    ids = {entry.case_id for entry in entries} | set(cases)

    def key(case_id: str) -> tuple[str, str]:
        known = cases.get(case_id)
        return (known.label if known else case_id, case_id)

    return sorted(ids, key=key)


def compute_invoice(
    contract: Contract,
    entries: Iterable[TimeEntry],
    *,
    cases: Mapping[str, CaseBilling] | None = None,
    period: BillingPeriod | None = None,
    carried_in_minutes: int = 0,
    include_retainer_fee: bool = True,
) -> InvoiceCalculation:
    """The invoice `contract` makes of `entries` (and, for fixed fees, of `cases`' prices).

    `period` names the month of a monthly invoice (for the retainer fee's description);
    `carried_in_minutes` are a retainer's unused minutes rolled over from last month. Raises
    InvalidInput for a role without a rate (hourly) and CurrencyMismatch for amounts in
    another currency than the contract's.
    """
    cases = dict(cases or {})
    checked = _check_entries(contract, entries)
    mode = contract.money_rounding
    lines = _Lines(contract.currency)
    billable = [e for e in checked if e.billable]
    non_billable = [e for e in checked if not e.billable]

    retainer_minutes = 0
    terms = contract.terms
    if isinstance(terms, RetainerTerms) and include_retainer_fee:
        month = f" for {period.label()}" if period else ""
        lines.add(
            LineKind.RETAINER_FEE,
            f"Retainer{month} (includes {hours_text(terms.included_minutes)})",
            contract.money(terms.monthly_fee).rounded(mode),
        )

    for case_id in _case_order(checked, cases):
        retainer_minutes += _case_lines(
            lines,
            contract,
            case_id=case_id,
            known=cases.get(case_id),
            billable=[e for e in billable if e.case_id == case_id],
            non_billable=[e for e in non_billable if e.case_id == case_id],
        )

    carry_forward = 0
    if isinstance(terms, RetainerTerms):
        allowance = terms.included_minutes + carried_in_minutes
        over = max(0, retainer_minutes - allowance)
        if over:
            rate = contract.money(terms.overage_rate)
            lines.add(
                LineKind.OVERAGE,
                f"Overage: {hours_text(over)} beyond the {hours_text(allowance)} included, "
                f"at {rate}/h",
                time_amount(over, rate, mode),
                rate=rate,
                minutes=over,
            )
        carry_forward = min(max(0, allowance - retainer_minutes), terms.rollover_limit_minutes)

    if contract.discount_percent:
        base = lines.total()
        discount = -(base * (contract.discount_percent / 100)).rounded(mode)
        if not discount.is_zero:
            lines.add(
                LineKind.DISCOUNT,
                f"Discount {contract.discount_percent.normalize():f}%",
                discount,
            )

    return InvoiceCalculation.of(
        contract.currency,
        lines.lines,
        tax_lines(lines.lines, contract.tax, currency=contract.currency, mode=mode),
        carry_forward_minutes=carry_forward,
    )


def _case_lines(
    lines: _Lines,
    contract: Contract,
    *,
    case_id: str,
    known: CaseBilling | None,
    billable: Sequence[TimeEntry],
    non_billable: Sequence[TimeEntry],
) -> int:
    """Add one case's lines (fee, time per role, work not charged, cap); return the billed
    minutes a retainer counts against its included hours."""
    terms = contract.terms
    mode = contract.money_rounding
    zero = Money.zero(contract.currency)
    label = known.label if known else case_id
    case_lines_from = len(lines.lines)
    retainer_minutes = 0
    if isinstance(terms, FixedFeeTerms) and known and known.fixed_fee is not None:
        lines.add(
            LineKind.FIXED_FEE,
            f"{label}: fixed fee",
            known.fixed_fee.rounded(mode),
            case_id=case_id,
        )
    for group in _groups(billable):
        shares, minutes = contract.rounding.billed_for_group(e.minutes for e in group.entries)
        listed = _billed_entries(
            group.entries, shares if contract.rounding.scope is RoundingScope.ENTRY else None
        )
        rate: Money | None = None
        amount = zero
        if isinstance(terms, HourlyTerms):
            rate = contract.money(contract.rate_for(group.role))
            kind, note = LineKind.TIME, f"at {rate}/h"
            amount = time_amount(minutes, rate, mode)
        elif isinstance(terms, RetainerTerms):
            retainer_minutes += minutes
            kind, note = LineKind.INCLUDED, "(retainer)"
        else:
            kind, note = LineKind.INFORMATION, "(for information)"
        lines.add(
            kind,
            f"{label}: {group.role}, {hours_text(minutes)} {note}",
            amount,
            case_id=case_id,
            role=group.role,
            rate=rate,
            minutes=minutes,
            entries=listed,
        )
    for group in _groups(non_billable):
        minutes = sum(e.minutes for e in group.entries)
        lines.add(
            LineKind.NOT_CHARGED,
            f"{label}: {group.role}, {hours_text(minutes)} (not charged)",
            zero,
            case_id=case_id,
            role=group.role,
            minutes=minutes,
            entries=_billed_entries(group.entries, [0] * len(group.entries)),
        )
    if isinstance(terms, HourlyTerms) and terms.cap_per_case is not None:
        _apply_cap(
            lines,
            case_lines_from=case_lines_from,
            case_id=case_id,
            label=label,
            known=known,
            contract=contract,
            cap_amount=terms.cap_per_case,
        )
    return retainer_minutes


def _apply_cap(
    lines: _Lines,
    *,
    case_lines_from: int,
    case_id: str,
    label: str,
    known: CaseBilling | None,
    contract: Contract,
    cap_amount: Decimal,
) -> None:
    cap = contract.money(cap_amount)
    charged_now = total([line.amount for line in lines.lines[case_lines_from:]], contract.currency)
    charged_before = (
        known.charged_before if known and known.charged_before else Money.zero(contract.currency)
    )
    room = max(cap - charged_before, Money.zero(contract.currency))
    if charged_now > room:
        lines.add(
            LineKind.CAP,
            f"Cap applied: {label}, not to exceed {cap}",
            room - charged_now,
            case_id=case_id,
        )


def tax_lines(
    lines: Sequence[InvoiceLine], rule: TaxRule, *, currency: str, mode: MoneyRounding
) -> tuple[TaxLine, ...]:
    """The tax on `lines` under `rule`: one tax line for the contract's rate."""
    amounts = [line.amount for line in lines]
    return (tax_line(amounts, rule, currency=currency, mode=mode),)


def tax_line(
    amounts: Sequence[Money], rule: TaxRule, *, currency: str, mode: MoneyRounding
) -> TaxLine:
    """Scope `invoice`: round(sum × rate) once; scope `line`: the sum of each rounded tax."""
    base = total(list(amounts), currency)
    rate = rule.rate_percent / 100
    if rule.scope is TaxScope.INVOICE:
        amount = (base * rate).rounded(mode)
    else:
        amount = total([(a * rate).rounded(mode) for a in amounts], currency)
    return TaxLine(rate_percent=rule.rate_percent, base=base, amount=amount, note=rule.note)
