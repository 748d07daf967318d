"""Receivables for staff and their accountant: one row per open invoice, and DSO, as CSV.

The figures are billing's (`outstanding_on`, `AgingBucket`, `days_sales_outstanding`), so the
export always agrees with the aging screen. The CSV opens in Excel as it is: UTF-8 with a byte
order mark, a header row, ISO dates, amounts as strings with the currency's minor units
("540.00", never floats), one currency column beside them (amounts in different currencies are
never added together). A blank line separates the invoices from the DSO table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date

from attrs import frozen

from portal_core import access
from portal_core.billing import access as billing_access
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.money import Money, total
from portal_core.billing.periods import DEFAULT_FIRM_TIME_ZONE, firm_zone, local_date
from portal_core.billing.receivables import (
    AgingBucket,
    DaysSalesOutstanding,
    days_sales_outstanding,
    outstanding_on,
)
from portal_core.organisations.model import Principal
from portal_core.ports import Clock, UnitOfWorkFactory

INVOICE_COLUMNS = (
    "client",
    "client id",
    "case",
    "invoice",
    "issue date",
    "due date",
    "currency",
    "gross",
    "paid",
    "credited",
    "open",
    "days overdue",
    "bucket",
)
DSO_COLUMNS = ("dso from", "dso to", "currency", "receivables", "invoiced", "days", "dso")


@frozen(kw_only=True)
class ReceivableRow:
    client_id: str
    client_name: str
    cases: str
    """The case number, or the numbers of every case a monthly invoice covers ("; ")."""
    invoice_number: str
    issue_date: date
    due_date: date
    gross: Money
    paid: Money
    """Received by the report's day, refunds deducted."""
    credited: Money
    """Credit notes issued by the report's day."""
    open: Money
    days_overdue: int
    bucket: AgingBucket


@frozen(kw_only=True)
class ReceivablesReport:
    on: date
    rows: tuple[ReceivableRow, ...]
    dso_start: date
    dso_end: date
    dso: tuple[DaysSalesOutstanding, ...]


def receivables_report(
    invoices: Sequence[Invoice],
    credit_notes: Sequence[CreditNote],
    *,
    on: date,
    dso_start: date,
    dso_end: date,
    client_names: Mapping[str, str],
    case_numbers: Mapping[str, str],
) -> ReceivablesReport:
    """Every invoice still open on `on`, by client then due date; DSO for the chosen period."""
    rows = []
    for invoice in invoices:
        if invoice.issue_date is None or invoice.due_date is None or invoice.number is None:
            continue
        owed = outstanding_on(invoice, credit_notes, on)
        if owed.amount <= 0:
            continue
        currency = invoice.currency
        paid = total([p.amount for p in invoice.payments if p.received_on <= on], currency)
        credited = total(
            [c.gross for c in credit_notes if c.invoice_id == invoice.id and c.issue_date <= on],
            currency,
        )
        case_ids = (
            [invoice.case_id]
            if invoice.case_id is not None
            else sorted({line.case_id for line in invoice.lines if line.case_id is not None})
        )
        days_past_due = (on - invoice.due_date).days
        rows.append(
            ReceivableRow(
                client_id=invoice.organisation_id,
                client_name=client_names.get(invoice.organisation_id, invoice.organisation_id),
                cases="; ".join(case_numbers.get(c, c) for c in case_ids),
                invoice_number=invoice.number,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                gross=invoice.gross,
                paid=paid,
                credited=credited,
                open=owed,
                days_overdue=max(days_past_due, 0),
                bucket=AgingBucket.for_days_past_due(days_past_due),
            )
        )
    rows.sort(key=lambda r: (r.client_name.casefold(), r.client_id, r.due_date, r.invoice_number))
    return ReceivablesReport(
        on=on,
        rows=tuple(rows),
        dso_start=dso_start,
        dso_end=dso_end,
        dso=tuple(days_sales_outstanding(invoices, credit_notes, start=dso_start, end=dso_end)),
    )


def receivables_csv(report: ReceivablesReport) -> str:
    """The report as CSV text, starting with a byte order mark: encode it as UTF-8 as it is."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(INVOICE_COLUMNS)
    for row in report.rows:
        writer.writerow(
            (
                row.client_name,
                row.client_id,
                row.cases,
                row.invoice_number,
                row.issue_date.isoformat(),
                row.due_date.isoformat(),
                row.gross.currency,
                str(row.gross),
                str(row.paid),
                str(row.credited),
                str(row.open),
                row.days_overdue,
                row.bucket.value,
            )
        )
    writer.writerow(())
    writer.writerow(DSO_COLUMNS)
    for dso in report.dso:
        writer.writerow(
            (
                report.dso_start.isoformat(),
                report.dso_end.isoformat(),
                dso.currency,
                str(dso.receivables),
                str(dso.invoiced),
                dso.days,
                "" if dso.value is None else f"{dso.value:f}",
            )
        )
    return "\ufeff" + buffer.getvalue()


class ReceivablesExport:
    """The staff use case behind the "download receivables" button."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, time_zone: str = DEFAULT_FIRM_TIME_ZONE
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._zone = firm_zone(time_zone)

    def report(
        self,
        principal: Principal,
        *,
        dso_start: date,
        dso_end: date,
        on: date | None = None,
    ) -> ReceivablesReport:
        access.require(
            billing_access.can_manage_invoices(principal),
            "Only the firm's staff see receivables.",
        )
        day = on or local_date(self._clock.now(), self._zone)
        with self._uow(read_only=True) as uow:
            invoices = uow.invoices.list(organisation_id=None, include_drafts=False)
            notes = uow.credit_notes.list(organisation_id=None)
            client_names = {o.id: o.name for o in uow.organisations.list()}
            case_ids = {i.case_id for i in invoices if i.case_id is not None} | {
                line.case_id for i in invoices for line in i.lines if line.case_id is not None
            }
            case_numbers = {
                case.id: case.number
                for case_id in sorted(case_ids)
                if (case := uow.cases.get(case_id)) is not None
            }
        return receivables_report(
            invoices,
            notes,
            on=day,
            dso_start=dso_start,
            dso_end=dso_end,
            client_names=client_names,
            case_numbers=case_numbers,
        )

    def csv(
        self,
        principal: Principal,
        *,
        dso_start: date,
        dso_end: date,
        on: date | None = None,
    ) -> str:
        """`receivables_csv` of `report`: serve it as `text/csv; charset=utf-8`."""
        return receivables_csv(self.report(principal, dso_start=dso_start, dso_end=dso_end, on=on))
