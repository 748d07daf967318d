"""The firm's pages: the queue across organisations, a case with internal notes and time,
and invoice review (recompute, issue, credit)."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Response, Template

from entrypoints.web.auth import requires_staff
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from entrypoints.web.pages.client import (
    STATUS_LABELS,
    CaseFilters,
    apply_status_change,
    case_filters,
    case_page,
    invoice_page,
)
from entrypoints.web.pages.rendering import (
    PAGE_OPT,
    in_thread,
    page,
    read_form,
    see_other,
    text_field,
)
from portal_core.billing.credit_notes import CreditLine
from portal_core.billing.money import Money
from portal_core.billing.service import IssueCreditNote, LogTime
from portal_core.cases.model import ALLOWED_MOVES, CaseStatus, Priority, Visibility
from portal_core.cases.service import AddComment, AssignCase
from portal_core.errors import DomainError, InvalidInput
from portal_core.organisations.model import Principal

log = logging.getLogger(__name__)

MAX_MINUTES_PER_ENTRY = 24 * 60


def staff_case_page(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    principal: Principal,
    case_id: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    detail = container.cases.get_case(principal, case_id)
    try:
        work = container.billing.case_work_in_progress(principal, case_id)
    except DomainError:  # no contract for the organisation yet
        work = None
    contract = _contract(container, principal, detail.case.organisation_id)
    return case_page(
        request,
        container,
        principal,
        case_id,
        errors=errors,
        template="staff_case.html",
        status_code=status_code,
        staff_moves=[
            (move.value, STATUS_LABELS[move])
            for move in sorted(ALLOWED_MOVES[detail.case.status], key=lambda move: move.value)
        ],
        work=work,
        roles=sorted(contract.rates) if contract is not None else [],
        today=container.billing.today(),
        values=values or {},
    )


class StaffPages(Controller):
    include_in_schema = False
    guards = [requires_staff]  # noqa: RUF012 (Litestar reads these class attributes)
    opt = PAGE_OPT

    @get("/staff/queue", sync_to_thread=True)
    def queue(
        self,
        *,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        status: FromQuery[str | None] = None,
        priority: FromQuery[str | None] = None,
        assignee: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
    ) -> Template:
        filters: CaseFilters = case_filters(status, priority, q, page_number)
        mine = assignee == "me"
        # The queue is the work still to do, unless a status is asked for.
        query = filters.query(assignee_id=principal.user_id if mine else None, open_only=True)
        found = container.cases.list_cases(principal, query)
        organisations = {
            organisation.id: organisation.name
            for organisation in container.onboarding.list_organisations(principal)
        }
        return page(
            request,
            container,
            "queue.html",
            found=found,
            filters=filters,
            mine=mine,
            statuses=list(CaseStatus),
            priorities=list(Priority),
            labels=STATUS_LABELS,
            organisations=organisations,
        )

    @get("/staff/cases/{case_id:str}", sync_to_thread=True)
    def case(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Template:
        return staff_case_page(request, container, principal, case_id)

    @post("/staff/cases/{case_id:str}/comments")
    async def comment(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        form = await read_form(request)
        body = text_field(form, "body")
        internal = text_field(form, "visibility") == Visibility.INTERNAL.value
        if not body:
            return await in_thread(
                lambda: staff_case_page(
                    request,
                    container,
                    principal,
                    case_id,
                    errors={"body": "Write the reply or note first."},
                )
            )
        visibility = Visibility.INTERNAL if internal else Visibility.PUBLIC
        await in_thread(
            lambda: container.cases.comment(
                principal, AddComment(case_id=case_id, body=body, visibility=visibility)
            )
        )
        return see_other(f"/staff/cases/{case_id}", done="noted" if internal else "commented")

    @post("/staff/cases/{case_id:str}/status")
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        form = await read_form(request)
        return await apply_status_change(
            request, container, principal, case_id, form, render=staff_case_page
        )

    @post("/staff/cases/{case_id:str}/assignment")
    async def assign(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        choice = text_field(await read_form(request), "assignee")
        assignee = principal.user_id if choice == "me" else None
        await in_thread(
            lambda: container.cases.assign(
                principal, AssignCase(case_id=case_id, assignee_id=assignee)
            )
        )
        return see_other(f"/staff/cases/{case_id}", done="assigned")

    @post("/staff/cases/{case_id:str}/time")
    async def log_time(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        form = await read_form(request)
        values = {
            name: text_field(form, name) for name in ("role", "work_date", "minutes", "description")
        }
        errors: dict[str, str] = {}
        try:
            work_date = date.fromisoformat(values["work_date"])
        except ValueError:
            errors["work_date"] = "Enter the day of the work as a date."
        minutes = int(values["minutes"]) if values["minutes"].isdigit() else 0
        if not 1 <= minutes <= MAX_MINUTES_PER_ENTRY:
            errors["minutes"] = f"Enter whole minutes, from 1 to {MAX_MINUTES_PER_ENTRY}."
        if not values["role"]:
            errors["role"] = "Choose the role the work was done in."
        if not values["description"]:
            errors["description"] = "Say what the work was."
        if not errors:
            command = LogTime(
                case_id=case_id,
                role=values["role"],
                work_date=work_date,
                minutes=minutes,
                description=values["description"],
                billable=form.get("billable") == "yes",
            )
            try:
                await in_thread(lambda: container.billing.log_time(principal, command))
            except InvalidInput as refused:
                message = refused.message
                errors["time"] = message
        if errors:
            return await in_thread(
                lambda: staff_case_page(
                    request, container, principal, case_id, errors=errors, values=values
                )
            )
        return see_other(f"/staff/cases/{case_id}", done="time")

    # --- invoice review ------------------------------------------------------------------------

    @get("/staff/invoices", sync_to_thread=True)
    def invoices(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Template:
        everything = container.billing.list_invoices(principal)
        organisations = {
            organisation.id: organisation.name
            for organisation in container.onboarding.list_organisations(principal)
        }
        return page(
            request,
            container,
            "staff_invoices.html",
            drafts=[invoice for invoice in everything if invoice.is_draft],
            issued=[invoice for invoice in everything if not invoice.is_draft],
            organisations=organisations,
            today=container.billing.today(),
        )

    @post("/staff/invoices/{invoice_id:str}/recompute")
    async def recompute(
        self, container: PortalContainer, principal: SignedInPrincipal, invoice_id: FromPath[str]
    ) -> Response[Any]:
        await in_thread(lambda: container.billing.recompute(principal, invoice_id))
        return see_other(f"/invoices/{invoice_id}", done="recomputed")

    @post("/staff/invoices/{invoice_id:str}/issue")
    async def issue(
        self, container: PortalContainer, principal: SignedInPrincipal, invoice_id: FromPath[str]
    ) -> Response[Any]:
        await in_thread(lambda: container.billing.issue(principal, invoice_id))
        await in_thread(lambda: _render_pdf(container, principal, invoice_id))
        return see_other(f"/invoices/{invoice_id}", done="issued")

    @post("/staff/invoices/{invoice_id:str}/credit")
    async def credit(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        invoice_id: FromPath[str],
    ) -> Response[Any]:
        form = await read_form(request)
        reason = text_field(form, "reason")
        line_text = text_field(form, "line")
        amount_text = text_field(form, "amount")

        def issue_credit() -> None:
            invoice = container.billing.get_invoice(principal, invoice_id)
            lines: tuple[CreditLine, ...] | None = None
            if line_text:
                if not line_text.isdigit():
                    raise InvalidInput("Choose a line of the invoice.")
                amount = None
                if amount_text:
                    try:
                        amount = Money(Decimal(amount_text), invoice.currency)
                    except (InvalidOperation, ValueError) as wrong:
                        raise InvalidInput(
                            "Enter the amount as a number, such as 120.00."
                        ) from wrong
                lines = (CreditLine(line_number=int(line_text), amount=amount),)
            container.billing.issue_credit_note(
                principal, IssueCreditNote(invoice_id=invoice_id, reason=reason, lines=lines)
            )

        try:
            await in_thread(issue_credit)
        except InvalidInput as refused:
            message = refused.message
            return await in_thread(
                lambda: invoice_page(
                    request,
                    container,
                    principal,
                    invoice_id,
                    errors={"credit": message},
                )
            )
        return see_other(f"/invoices/{invoice_id}", done="credited")


def _render_pdf(container: PortalContainer, principal: Principal, invoice_id: str) -> None:
    """The PDF right after the issue committed, as the API does; if rendering fails, the
    first download renders it, so the issue itself stands."""
    try:
        container.invoice_pdfs.render_and_store(principal, invoice_id)
    except Exception:
        log.exception("invoice %s issued, its PDF left to the first download", invoice_id)


def _contract(container: PortalContainer, principal: Principal, organisation_id: str) -> Any:
    try:
        return container.billing.contract_for(principal, organisation_id)
    except DomainError:
        return None
