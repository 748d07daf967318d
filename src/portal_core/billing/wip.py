"""Work in progress: a case's or an organisation's unbilled time, and what it would bill so far.

The client portal shows it, so that a client sees the work and its cost before the invoice.
It is the invoice the unbilled time would make under the contract in force, without what is
not caused by the time itself: no retainer fee (charged every month regardless), no discount
and no tax, so `amount` is "time so far, before discount and tax". Non-billable time is shown
as work done at zero; a fixed-fee case shows its price once it has one. A case's view under a
retainer shows its time as included: whether the month goes over its included hours depends on
every case, so the overage line appears only in the organisation's view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from attrs import frozen

from portal_core.billing.compute import CaseBilling, compute_invoice
from portal_core.billing.contract import Contract
from portal_core.billing.invoice import InvoiceLine, LineKind
from portal_core.billing.money import Money, total
from portal_core.billing.time_entries import TimeEntry


@frozen(kw_only=True)
class WorkInProgress:
    organisation_id: str
    case_id: str | None
    """None for the whole organisation."""
    currency: str
    lines: tuple[InvoiceLine, ...]
    entries: tuple[TimeEntry, ...]
    """The unbilled entries, billable or not, by work date."""

    @property
    def amount(self) -> Money:
        """What the unbilled time would bill so far, before discount and tax."""
        return total([line.amount for line in self.lines], self.currency)

    @property
    def raw_minutes(self) -> int:
        return sum(entry.minutes for entry in self.entries)

    @property
    def billable_minutes(self) -> int:
        """Billed minutes of the billable time (after the contract's rounding)."""
        return sum(
            line.minutes or 0
            for line in self.lines
            if line.kind in (LineKind.TIME, LineKind.INCLUDED, LineKind.INFORMATION)
        )


def work_in_progress(
    contract: Contract,
    entries: Iterable[TimeEntry],
    *,
    cases: Mapping[str, CaseBilling] | None = None,
    carried_in_minutes: int = 0,
    case_id: str | None = None,
) -> WorkInProgress:
    """The organisation's unbilled `entries` priced under `contract`; limited to one case's
    lines and entries when `case_id` is given (pass the organisation's entries all the same,
    so that a retainer's allowance is counted across cases)."""
    entries = tuple(entries)
    calculation = compute_invoice(
        contract,
        entries,
        cases=cases,
        carried_in_minutes=carried_in_minutes,
        include_retainer_fee=False,
    )
    lines = tuple(
        line
        for line in calculation.lines
        if line.kind is not LineKind.DISCOUNT and (case_id is None or line.case_id == case_id)
    )
    return WorkInProgress(
        organisation_id=contract.organisation_id,
        case_id=case_id,
        currency=contract.currency,
        lines=lines,
        entries=tuple(e for e in entries if case_id is None or e.case_id == case_id),
    )
