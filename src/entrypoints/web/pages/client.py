"""The pages a client works with: dashboard, cases, new requests, invoices and paying them.

Staff may open the same case list and case pages; what each person sees (another
organisation's case is "not found", internal notes only for staff) is the core's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from attrs import frozen
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Response, Template

from entrypoints.web.auth import requires_signed_in
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from entrypoints.web.pages.rendering import (
    PAGE_OPT,
    in_thread,
    page,
    read_form,
    see_other,
    text_field,
)
from entrypoints.web.pages.uploads import (
    confirmed_files,
    files_in_form,
    ticket_json,
    uploads_in_form,
)
from portal_core.billing.invoice import Invoice, InvoiceStatus
from portal_core.billing.wip import WorkInProgress
from portal_core.cases.model import (
    CLIENT_MOVES,
    CaseEvent,
    CaseStatus,
    Priority,
    TimelineEntry,
    Visibility,
    timeline,
)
from portal_core.cases.service import (
    AddComment,
    AttachFiles,
    CaseDetail,
    ChangeStatus,
    SubmitCase,
)
from portal_core.cases.uploads import RequestUpload
from portal_core.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from portal_core.organisations.model import Principal, Role
from portal_core.payments.model import CheckoutUrls
from portal_core.ports import CaseQuery, Page

CASES_PER_PAGE = 20
OPEN_STATUSES = frozenset(status for status in CaseStatus if status.is_open)
UNPAID = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})
# Room for a handful of files sent without JavaScript, each within the file limit.
NEW_REQUEST_MAX_BODY = 5 * 25 * 10**6 + 64 * 1024

STATUS_LABELS = {status: status.value.replace("_", " ").capitalize() for status in CaseStatus}
MOVE_LABELS = {
    CaseStatus.CLOSED: "Close this case",
    CaseStatus.IN_PROGRESS: "Reopen this case",
    CaseStatus.WAITING_ON_CLIENT: "Wait for the client",
    CaseStatus.RESOLVED: "Mark as resolved",
    CaseStatus.NEW: "Mark as new",
}


@frozen(kw_only=True)
class Activity:
    """One line of the dashboard's recent updates."""

    case_id: str
    entry: TimelineEntry


@frozen(kw_only=True)
class CaseFilters:
    status: CaseStatus | None
    priority: Priority | None
    text: str
    page: int

    def query(self, *, assignee_id: str | None = None, open_only: bool = False) -> CaseQuery:
        """The query for these filters; `open_only` stands in for "any status" in the queue."""
        if self.status is not None:
            statuses = frozenset({self.status})
        else:
            statuses = OPEN_STATUSES if open_only else frozenset()
        return CaseQuery(
            statuses=statuses,
            priority=self.priority,
            assignee_id=assignee_id,
            text=self.text or None,
            page=self.page,
            page_size=CASES_PER_PAGE,
        )

    def link(self, page_number: int) -> str:
        parameters = {
            "status": self.status.value if self.status else "",
            "priority": self.priority.value if self.priority else "",
            "q": self.text,
            "page": str(page_number),
        }
        return "?" + urlencode({key: value for key, value in parameters.items() if value})


def case_filters(
    status: str | None, priority: str | None, text: str | None, page_number: int
) -> CaseFilters:
    """Filters from the query string; an unknown value is ignored, as if left blank."""
    return CaseFilters(
        status=CaseStatus(status) if status and status in set(CaseStatus) else None,
        priority=Priority(priority) if priority and priority in set(Priority) else None,
        text=(text or "").strip()[:200],
        page=max(1, min(page_number, 10_000)),
    )


def recent_updates(events: Sequence[CaseEvent], principal: Principal) -> list[Activity]:
    updates: list[Activity] = []
    for event in events:
        for entry in timeline([event], include_internal=principal.is_staff):
            updates.append(Activity(case_id=event.case_id, entry=entry))
    return updates


def client_moves(principal: Principal, status: CaseStatus) -> list[tuple[str, str]]:
    if principal.is_staff or Role.CLIENT_ADMIN not in principal.roles:
        return []
    return [
        (move.value, MOVE_LABELS[move])
        for move in sorted(CLIENT_MOVES.get(status, frozenset()), key=lambda move: move.value)
    ]


class ClientPages(Controller):
    include_in_schema = False
    guards = [requires_signed_in]  # noqa: RUF012 (Litestar reads these class attributes)
    opt = PAGE_OPT

    # --- dashboard ---------------------------------------------------------------------------

    @get("/dashboard", sync_to_thread=True)
    def dashboard(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Template:
        open_cases = container.cases.list_cases(
            principal, CaseQuery(statuses=OPEN_STATUSES, page_size=10)
        )
        updates = recent_updates(container.cases.recent_activity(principal, limit=8), principal)
        work: WorkInProgress | None = None
        invoices: list[Invoice] = []
        if not principal.is_staff and principal.organisation_id is not None:
            work = _work_in_progress(container, principal, principal.organisation_id)
            today = container.billing.today()
            invoices = [
                invoice
                for invoice in container.billing.list_invoices(principal)
                if invoice.status_on(today) in UNPAID
            ]
        return page(
            request,
            container,
            "dashboard.html",
            open_cases=open_cases,
            updates=updates,
            work=work,
            invoices=invoices,
            today=container.billing.today(),
            labels=STATUS_LABELS,
            can_submit=_can_submit(principal),
        )

    # --- cases -------------------------------------------------------------------------------

    @get("/cases", sync_to_thread=True)
    def cases(
        self,
        *,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        status: FromQuery[str | None] = None,
        priority: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
    ) -> Template:
        filters = case_filters(status, priority, q, page_number)
        found: Page[Any] = container.cases.list_cases(principal, filters.query())
        return page(
            request,
            container,
            "cases.html",
            found=found,
            filters=filters,
            statuses=list(CaseStatus),
            priorities=list(Priority),
            labels=STATUS_LABELS,
            case_path="/staff/cases/" if principal.is_staff else "/cases/",
            can_submit=_can_submit(principal),
        )

    @get("/cases/new", sync_to_thread=True)
    def new_request(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Template:
        return _new_request_form(request, container, principal)

    @post("/cases/new", request_max_body_size=NEW_REQUEST_MAX_BODY)
    async def submit_request(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Response[Any]:
        form = await read_form(request)
        subject = text_field(form, "subject")
        description = text_field(form, "description")
        priority_value = text_field(form, "priority") or Priority.NORMAL.value
        organisation_id = text_field(form, "organisation_id") or None
        errors: dict[str, str] = {}
        if not subject:
            errors["subject"] = "Enter a subject: a few words that name the request."
        if not description:
            errors["description"] = "Describe what you need."
        if priority_value not in Priority.__members__.values():
            errors["priority"] = "Choose one of the priorities listed."
        if principal.is_staff and not organisation_id:
            errors["organisation_id"] = "Choose the client this request is for."
        values = {
            "subject": subject,
            "description": description,
            "priority": priority_value,
            "organisation_id": organisation_id or "",
        }
        if errors:
            return await in_thread(
                lambda: _new_request_form(
                    request, container, principal, errors=errors, values=values
                )
            )

        def submit() -> str:
            files = confirmed_files(
                container,
                principal,
                sent=uploads_in_form(form),
                attached=files_in_form(form),
                organisation_id=organisation_id if principal.is_staff else None,
            )
            case = container.cases.submit(
                principal,
                SubmitCase(
                    subject=subject,
                    description=description,
                    priority=Priority(priority_value),
                    organisation_id=organisation_id if principal.is_staff else None,
                    files=files,
                ),
            )
            return case.id

        try:
            case_id = await in_thread(submit)
        except InvalidInput as refused:
            message = refused.message
            return await in_thread(
                lambda: _new_request_form(
                    request,
                    container,
                    principal,
                    errors={"form": message},
                    values=values,
                )
            )
        return see_other(f"/cases/{case_id}/submitted")

    @post("/cases/upload-ticket")
    async def upload_ticket(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Response[dict[str, Any]]:
        """A ticket for one file the page's script is about to send (JSON in, JSON out)."""
        body = await request.json()
        if not isinstance(body, dict):
            raise InvalidInput("Send the file's name, type and size.")
        size = body.get("size")
        organisation_id = body.get("organisation_id")
        command = RequestUpload(
            display_name=str(body.get("name", ""))[:1000],
            content_type=str(body.get("type", ""))[:200],
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            organisation_id=organisation_id
            if principal.is_staff and isinstance(organisation_id, str)
            else None,
        )
        try:
            grant = await in_thread(lambda: container.uploads.request_upload(principal, command))
        except InvalidInput as refused:
            message = refused.message
            return Response({"error": message}, status_code=HTTPStatus.UNPROCESSABLE_ENTITY)
        return Response(ticket_json(grant), status_code=HTTPStatus.OK)

    @get("/cases/{case_id:str}/submitted", sync_to_thread=True)
    def submitted(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Template:
        detail = container.cases.get_case(principal, case_id)
        return page(request, container, "submitted.html", case=detail.case, detail=detail)

    @get("/cases/{case_id:str}", sync_to_thread=True)
    def case(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        if principal.is_staff:
            return Redirect(f"/staff/cases/{case_id}", status_code=303)
        return case_page(request, container, principal, case_id)

    @get("/cases/{case_id:str}/files/{attachment_id:str}", sync_to_thread=True)
    def download(
        self,
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
        attachment_id: FromPath[str],
    ) -> Redirect:
        """A fresh short-lived link for the file, so a page left open never offers a dead one."""
        attachment = container.cases.get_attachment(principal, attachment_id)
        if attachment.case_id != case_id:
            raise NotFound("No such file.")
        return Redirect(container.uploads.download_link(principal, attachment), status_code=303)

    @post("/cases/{case_id:str}/comments")
    async def comment(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        body = text_field(await read_form(request), "body")
        if not body:
            return await in_thread(
                lambda: case_page(
                    request,
                    container,
                    principal,
                    case_id,
                    errors={"body": "Write your comment first."},
                )
            )
        await in_thread(
            lambda: container.cases.comment(
                principal, AddComment(case_id=case_id, body=body, visibility=Visibility.PUBLIC)
            )
        )
        return see_other(f"/cases/{case_id}", done="commented")

    @post("/cases/{case_id:str}/status")
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        form = await read_form(request)
        return await apply_status_change(
            request, container, principal, case_id, form, render=case_page
        )

    @post("/cases/{case_id:str}/files", request_max_body_size=NEW_REQUEST_MAX_BODY)
    async def add_files(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        case_id: FromPath[str],
    ) -> Response[Any]:
        form = await read_form(request)

        def attach() -> None:
            detail = container.cases.get_case(principal, case_id)
            files = confirmed_files(
                container,
                principal,
                sent=uploads_in_form(form),
                attached=files_in_form(form),
                organisation_id=detail.case.organisation_id if principal.is_staff else None,
            )
            container.cases.attach_files(principal, AttachFiles(case_id=case_id, files=files))

        try:
            await in_thread(attach)
        except InvalidInput as refused:
            message = refused.message
            return await in_thread(
                lambda: case_page(request, container, principal, case_id, errors={"files": message})
            )
        back = "/staff/cases/" if principal.is_staff else "/cases/"
        return see_other(f"{back}{case_id}", done="files")

    # --- invoices ----------------------------------------------------------------------------

    @get("/invoices", sync_to_thread=True)
    def invoices(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Template:
        return page(
            request,
            container,
            "invoices.html",
            invoices=container.billing.list_invoices(principal),
            today=container.billing.today(),
        )

    @get("/invoices/{invoice_id:str}", sync_to_thread=True)
    def invoice(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        invoice_id: FromPath[str],
    ) -> Template:
        return invoice_page(request, container, principal, invoice_id)

    @post("/invoices/{invoice_id:str}/pay-link")
    async def pay_link(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        invoice_id: FromPath[str],
    ) -> Response[Any]:
        base = container.settings.base_url.rstrip("/")
        urls = CheckoutUrls(
            success_url=f"{base}/invoices/{invoice_id}?done=paid",
            cancel_url=f"{base}/invoices/{invoice_id}",
        )
        checkout = await in_thread(
            lambda: container.payments.start_checkout(principal, invoice_id, urls)
        )
        if _is_own_site(checkout.url, base):
            return Redirect(checkout.url, status_code=303)
        # A form may not redirect to another site under our CSP (form-action 'self'): the
        # payment page is one click away instead.
        return page(request, container, "pay_elsewhere.html", checkout_url=checkout.url)

    @get("/invoices/{invoice_id:str}/pay", sync_to_thread=True)
    def pay_by_transfer(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        invoice_id: FromPath[str],
    ) -> Template:
        """The manual gateway's pay link: how to pay by bank transfer."""
        invoice = container.billing.get_invoice(principal, invoice_id)
        return page(
            request,
            container,
            "pay_transfer.html",
            invoice=invoice,
            status=invoice.status_on(container.billing.today()),
        )


# --- shared with the staff pages ------------------------------------------------------------


def case_page(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    principal: Principal,
    case_id: str,
    *,
    errors: dict[str, str] | None = None,
    template: str = "case.html",
    status_code: int | None = None,
    **extra: Any,
) -> Template:
    detail: CaseDetail = container.cases.get_case(principal, case_id)
    downloads = {
        attachment.id: f"/cases/{case_id}/files/{attachment.id}"
        for attachment in detail.attachments
    }
    return page(
        request,
        container,
        template,
        status_code=status_code or (HTTPStatus.UNPROCESSABLE_ENTITY if errors else HTTPStatus.OK),
        case=detail.case,
        detail=detail,
        downloads=downloads,
        errors=errors or {},
        labels=STATUS_LABELS,
        moves=client_moves(principal, detail.case.status),
        can_comment=principal.is_staff or Role.CLIENT_ADMIN in principal.roles,
        **extra,
    )


async def apply_status_change(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    principal: Principal,
    case_id: str,
    form: FormMultiDict,
    *,
    render: Callable[..., Template],
) -> Response[Any]:
    value = text_field(form, "status")
    version_text = text_field(form, "version")
    back = "/staff/cases/" if principal.is_staff else "/cases/"
    if value not in CaseStatus.__members__.values():
        raise InvalidInput("Choose one of the statuses offered.")
    command = ChangeStatus(
        case_id=case_id,
        status=CaseStatus(value),
        expected_version=int(version_text) if version_text.isdigit() else None,
    )
    try:
        await in_thread(lambda: container.cases.change_status(principal, command))
    except InvalidTransition as refused:
        message = refused.message
        return await in_thread(
            lambda: render(
                request,
                container,
                principal,
                case_id,
                errors={"status": message},
                status_code=HTTPStatus.CONFLICT,
            )
        )
    return see_other(f"{back}{case_id}", done="status")


def invoice_page(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    principal: Principal,
    invoice_id: str,
    *,
    errors: dict[str, str] | None = None,
) -> Template:
    invoice = container.billing.get_invoice(principal, invoice_id)
    status = invoice.status_on(container.billing.today())
    return page(
        request,
        container,
        "invoice.html",
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY if errors else HTTPStatus.OK,
        invoice=invoice,
        status=status,
        payable=status in UNPAID and _can_pay(principal),
        credit_notes=container.billing.credit_notes(principal, invoice_id),
        pdf_url=f"/api/v1/invoices/{invoice.id}/pdf",
        errors=errors or {},
    )


def _new_request_form(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    organisations = container.onboarding.list_organisations(principal) if principal.is_staff else []
    return page(
        request,
        container,
        "new_request.html",
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY if errors else HTTPStatus.OK,
        errors=errors or {},
        values=values or {"priority": Priority.NORMAL.value},
        priorities=list(Priority),
        organisations=organisations,
        max_file_size=container.file_limits.max_file_size,
        can_submit=_can_submit(principal),
    )


def _work_in_progress(
    container: PortalContainer, principal: Principal, organisation_id: str
) -> WorkInProgress | None:
    try:
        return container.billing.organisation_work_in_progress(principal, organisation_id)
    except DomainError:  # no contract yet, or not for this role: nothing to show
        return None


def _can_submit(principal: Principal) -> bool:
    return principal.is_staff or Role.CLIENT_ADMIN in principal.roles


def _can_pay(principal: Principal) -> bool:
    return principal.is_staff or bool(principal.roles & {Role.BILLING_CONTACT, Role.CLIENT_ADMIN})


def _is_own_site(url: str, base: str) -> bool:
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return url.startswith("/") and not url.startswith("//")
    return url.startswith(base + "/")
