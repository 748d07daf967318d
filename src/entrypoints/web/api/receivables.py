"""Receivables (staff): what clients owe by age, as JSON or as the CSV the finance team opens."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
from litestar import Controller, Response, get
from litestar.params import FromPath, FromQuery

from entrypoints.web.api.common import MoneyOut, money
from entrypoints.web.auth import requires_staff
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from portal_core.billing.receivables import AgingBucket, AgingRow
from portal_core.payments.receivables_export import ReceivablesExport

DEFAULT_DSO_DAYS = 90


class AgingRowOut(msgspec.Struct, frozen=True):
    organisation_id: FromPath[str]
    case_id: str | None
    currency: str
    buckets: dict[AgingBucket, MoneyOut]
    total: MoneyOut


class ReceivablesOut(msgspec.Struct, frozen=True):
    on: date
    by_client: list[AgingRowOut]
    by_case: list[AgingRowOut]


def aging_row_out(row: AgingRow) -> AgingRowOut:
    return AgingRowOut(
        organisation_id=row.organisation_id,
        case_id=row.case_id,
        currency=row.currency,
        buckets={bucket: money(amount) for bucket, amount in row.buckets},
        total=money(row.total),
    )


class ReceivablesController(Controller):
    tags = ["receivables"]  # noqa: RUF012
    guards = [requires_staff]  # noqa: RUF012

    @get("/receivables", summary="Outstanding amounts by age (staff)", sync_to_thread=True)
    def receivables(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        on: FromQuery[date | None] = None,
    ) -> ReceivablesOut:
        found = container.billing.receivables(principal, on=on)
        return ReceivablesOut(
            on=found.on,
            by_client=[aging_row_out(r) for r in found.by_client],
            by_case=[aging_row_out(r) for r in found.by_case],
        )

    @get(
        "/receivables.csv",
        summary="Receivables and days sales outstanding as CSV (staff)",
        media_type="text/csv; charset=utf-8",
        sync_to_thread=True,
    )
    def receivables_csv(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        on: FromQuery[date | None] = None,
        dso_start: FromQuery[date | None] = None,
        dso_end: FromQuery[date | None] = None,
    ) -> Response[str]:
        export = ReceivablesExport(
            uow=container.uow,
            clock=container.clock,
            time_zone=container.settings.firm_time_zone.key,
        )
        end = dso_end or on or container.billing.today()
        start = dso_start or default_dso_start(end)
        body = export.csv(principal, dso_start=start, dso_end=end, on=on)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="receivables.csv"'},
        )


def default_dso_start(end: date) -> date:
    """The DSO period's first day when none is asked for: `DEFAULT_DSO_DAYS` before `end`, or
    the calendar's first day for an `end` closer to it than that (never an overflow: a 500)."""
    if end - date.min < timedelta(days=DEFAULT_DSO_DAYS):
        return date.min
    return end - timedelta(days=DEFAULT_DSO_DAYS)
