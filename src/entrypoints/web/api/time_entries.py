"""Time entries (staff) and work in progress: what unbilled time would bill so far."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from entrypoints.web.api.common import Idempotent, MoneyOut, money, provide_idempotent_call
from entrypoints.web.api.invoices import InvoiceLineOut, line_out
from entrypoints.web.auth import requires_staff
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from portal_core.billing.service import DeleteTime, EditTime, LogTime
from portal_core.billing.time_entries import TimeEntry
from portal_core.billing.wip import WorkInProgress

MINUTES = msgspec.Meta(ge=1, le=24 * 60)


class TimeEntryOut(msgspec.Struct, frozen=True):
    id: str
    case_id: FromPath[str]
    organisation_id: FromPath[str]
    staff_id: str
    role: str
    work_date: date
    minutes: int
    description: str
    billable: bool
    invoice_id: str | None
    version: int


class TimeEntryListOut(msgspec.Struct, frozen=True):
    items: list[TimeEntryOut]


class LogTimeIn(msgspec.Struct, frozen=True):
    role: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    work_date: date
    minutes: Annotated[int, MINUTES]
    description: Annotated[str, msgspec.Meta(max_length=10_000)]
    billable: bool = True
    staff_id: str | None = None
    """Who did the work; you when absent."""


class EditTimeIn(msgspec.Struct, frozen=True):
    expected_version: int
    role: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    work_date: date
    minutes: Annotated[int, MINUTES]
    description: Annotated[str, msgspec.Meta(max_length=10_000)]
    billable: bool = True


class WorkInProgressOut(msgspec.Struct, frozen=True):
    organisation_id: FromPath[str]
    case_id: str | None
    currency: str
    amount: MoneyOut
    raw_minutes: int
    billable_minutes: int
    lines: list[InvoiceLineOut]
    entries: list[TimeEntryOut]


def time_entry_out(entry: TimeEntry) -> TimeEntryOut:
    return TimeEntryOut(
        id=entry.id,
        case_id=entry.case_id,
        organisation_id=entry.organisation_id,
        staff_id=entry.staff_id,
        role=entry.role,
        work_date=entry.work_date,
        minutes=entry.minutes,
        description=entry.description,
        billable=entry.billable,
        invoice_id=entry.invoice_id,
        version=entry.version,
    )


def wip_out(wip: WorkInProgress) -> WorkInProgressOut:
    return WorkInProgressOut(
        organisation_id=wip.organisation_id,
        case_id=wip.case_id,
        currency=wip.currency,
        amount=money(wip.amount),
        raw_minutes=wip.raw_minutes,
        billable_minutes=wip.billable_minutes,
        lines=[line_out(line) for line in wip.lines],
        entries=[time_entry_out(e) for e in wip.entries],
    )


class TimeEntriesController(Controller):
    tags = ["time"]  # noqa: RUF012
    dependencies = {"idempotent": Provide(provide_idempotent_call)}  # noqa: RUF012

    @get(
        "/cases/{case_id:str}/time-entries",
        summary="A case's unbilled time entries (staff)",
        guards=[requires_staff],
        sync_to_thread=True,
    )
    def list_entries(
        self, principal: SignedInPrincipal, container: PortalContainer, case_id: FromPath[str]
    ) -> TimeEntryListOut:
        wip = container.billing.case_work_in_progress(principal, case_id)
        return TimeEntryListOut(items=[time_entry_out(e) for e in wip.entries])

    @post(
        "/cases/{case_id:str}/time-entries",
        summary="Log time on a case (staff)",
        guards=[requires_staff],
        sync_to_thread=True,
    )
    def log_time(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        case_id: FromPath[str],
        data: JSONBody[LogTimeIn],
    ) -> Response[TimeEntryOut]:
        command = LogTime(
            case_id=case_id,
            role=data.role,
            work_date=data.work_date,
            minutes=data.minutes,
            description=data.description,
            billable=data.billable,
            staff_id=data.staff_id,
        )
        return idempotent.respond(
            lambda: time_entry_out(container.billing.log_time(principal, command))
        )

    @patch(
        "/time-entries/{entry_id:str}",
        summary="Correct unbilled time (staff)",
        guards=[requires_staff],
        sync_to_thread=True,
    )
    def edit_time(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        entry_id: FromPath[str],
        data: JSONBody[EditTimeIn],
    ) -> TimeEntryOut:
        command = EditTime(
            entry_id=entry_id,
            expected_version=data.expected_version,
            role=data.role,
            work_date=data.work_date,
            minutes=data.minutes,
            description=data.description,
            billable=data.billable,
        )
        return time_entry_out(container.billing.edit_time(principal, command))

    @delete(
        "/time-entries/{entry_id:str}",
        summary="Delete unbilled time (staff)",
        guards=[requires_staff],
        sync_to_thread=True,
    )
    def delete_time(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        entry_id: FromPath[str],
        expected_version: Annotated[int, QueryParameter(ge=1)],
    ) -> None:
        container.billing.delete_time(
            principal, DeleteTime(entry_id=entry_id, expected_version=expected_version)
        )

    @get(
        "/cases/{case_id:str}/work-in-progress",
        summary="What a case's unbilled time would bill so far",
        sync_to_thread=True,
    )
    def case_wip(
        self, principal: SignedInPrincipal, container: PortalContainer, case_id: FromPath[str]
    ) -> WorkInProgressOut:
        return wip_out(container.billing.case_work_in_progress(principal, case_id))

    @get(
        "/organisations/{organisation_id:str}/work-in-progress",
        summary="What an organisation's unbilled time would bill so far",
        sync_to_thread=True,
    )
    def organisation_wip(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        organisation_id: FromPath[str],
    ) -> WorkInProgressOut:
        return wip_out(container.billing.organisation_work_in_progress(principal, organisation_id))
