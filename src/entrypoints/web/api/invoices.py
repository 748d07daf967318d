"""Invoices and credit notes: list, detail, PDF, and for staff issue, credit and the monthly run."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from entrypoints.bootstrap import Container
from entrypoints.web.api.common import (
    ApiPrefix,
    Idempotent,
    MoneyOut,
    money,
    provide_idempotent_call,
)
from entrypoints.web.auth import requires_staff
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from portal_core.billing.credit_notes import CreditLine
from portal_core.billing.invoice import CreditNote, Invoice, InvoiceLine, InvoiceStatus, LineKind
from portal_core.billing.money import Money
from portal_core.billing.pdfs import StoredPdf
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.service import IssueCreditNote
from portal_core.cases.files import content_disposition
from portal_core.organisations.model import Principal
from portal_core.payments.model import CheckoutUrls

log = logging.getLogger(__name__)

AMOUNT = msgspec.Meta(pattern=r"^\d{1,15}(\.\d{1,4})?$", description='A decimal string: "540.00"')


class InvoiceLineOut(msgspec.Struct, frozen=True):
    number: int
    kind: LineKind
    description: str
    amount: MoneyOut
    case_id: str | None
    role: str | None
    minutes: int | None
    rate: MoneyOut | None


class TaxLineOut(msgspec.Struct, frozen=True):
    rate_percent: str
    base: MoneyOut
    amount: MoneyOut
    note: str


class InvoiceOut(msgspec.Struct, frozen=True):
    id: str
    number: str | None
    organisation_id: FromPath[str]
    status: InvoiceStatus
    case_id: str | None
    period: str | None
    issue_date: date | None
    due_date: date | None
    currency: str
    net: MoneyOut
    tax: MoneyOut
    gross: MoneyOut
    amount_paid: MoneyOut
    amount_credited: MoneyOut
    balance_due: MoneyOut
    lines: list[InvoiceLineOut]
    tax_lines: list[TaxLineOut]
    pdf_url: str | None
    version: int


class InvoiceListOut(msgspec.Struct, frozen=True):
    items: list[InvoiceOut]


class CreditLineIn(msgspec.Struct, frozen=True):
    line_number: Annotated[int, msgspec.Meta(ge=1)]
    amount: Annotated[str, AMOUNT] | None = None
    """Net amount to credit of the line; all that is left of it when absent."""


class CreditNoteIn(msgspec.Struct, frozen=True):
    reason: Annotated[str, msgspec.Meta(max_length=10_000)]
    lines: Annotated[list[CreditLineIn], msgspec.Meta(max_length=1_000)] | None = None
    """The lines to credit; absent credits everything still credited (voids the invoice)."""


class CreditNoteOut(msgspec.Struct, frozen=True):
    id: str
    number: str
    invoice_id: FromPath[str]
    invoice_number: str
    organisation_id: FromPath[str]
    reason: str
    issue_date: date
    net: MoneyOut
    tax: MoneyOut
    gross: MoneyOut
    pdf_url: str


class MonthlyRunIn(msgspec.Struct, frozen=True):
    period: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


class MonthlyRunOut(msgspec.Struct, frozen=True):
    invoice: InvoiceOut | None
    """None when the month had nothing to bill."""


class CheckoutOut(msgspec.Struct, frozen=True):
    url: str
    expires_at: str | None


def line_out(line: InvoiceLine) -> InvoiceLineOut:
    return InvoiceLineOut(
        number=line.number,
        kind=line.kind,
        description=line.description,
        amount=money(line.amount),
        case_id=line.case_id,
        role=line.role,
        minutes=line.minutes,
        rate=None if line.rate is None else money(line.rate),
    )


def invoice_out(invoice: Invoice, *, today: date, prefix: str) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.id,
        number=invoice.number,
        organisation_id=invoice.organisation_id,
        status=invoice.status_on(today),
        case_id=invoice.case_id,
        period=None if invoice.period is None else invoice.period.key,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        net=money(invoice.net),
        tax=money(invoice.tax),
        gross=money(invoice.gross),
        amount_paid=money(invoice.amount_paid),
        amount_credited=money(invoice.amount_credited),
        balance_due=money(invoice.balance_due),
        lines=[line_out(line) for line in invoice.lines],
        tax_lines=[
            TaxLineOut(
                rate_percent=f"{tax.rate_percent:f}",
                base=money(tax.base),
                amount=money(tax.amount),
                note=tax.note,
            )
            for tax in invoice.calculation.tax_lines
        ],
        pdf_url=None if invoice.is_draft else f"{prefix}/invoices/{invoice.id}/pdf",
        version=invoice.version,
    )


def credit_note_out(note: CreditNote, *, prefix: str) -> CreditNoteOut:
    return CreditNoteOut(
        id=note.id,
        number=note.number,
        invoice_id=note.invoice_id,
        invoice_number=note.invoice_number,
        organisation_id=note.organisation_id,
        reason=note.reason,
        issue_date=note.issue_date,
        net=money(note.net),
        tax=money(note.tax),
        gross=money(note.gross),
        pdf_url=f"{prefix}/credit-notes/{note.id}/pdf",
    )


def pdf_response(pdf: StoredPdf) -> Stream:
    return Stream(
        pdf.chunks,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(pdf.file_name),
            "Content-Length": str(pdf.size),
            "Cache-Control": "private, no-store",
        },
    )


def _render_after_issue(
    container: Container, principal: Principal, invoice_id: FromPath[str]
) -> None:
    """The PDF right after the issue committed; a failure leaves it to the first download."""
    try:
        container.invoice_pdfs.render_and_store(principal, invoice_id)
    except Exception:
        log.exception(
            "invoice %s issued, its PDF not rendered yet; a download renders it", invoice_id
        )


class InvoicesController(Controller):
    tags = ["invoices"]  # noqa: RUF012
    dependencies = {"idempotent": Provide(provide_idempotent_call)}  # noqa: RUF012

    @get("/invoices", summary="List invoices", sync_to_thread=True)
    def list_invoices(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        api_prefix: ApiPrefix,
        organisation_id: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> InvoiceListOut:
        """Newest first. Clients (billing contacts, client admins) see their issued invoices."""
        today = container.billing.today()
        found = container.billing.list_invoices(principal, organisation_id)
        return InvoiceListOut(items=[invoice_out(i, today=today, prefix=api_prefix) for i in found])

    @get("/invoices/{invoice_id:str}", summary="An invoice with its lines", sync_to_thread=True)
    def detail(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        api_prefix: ApiPrefix,
        invoice_id: FromPath[str],
    ) -> InvoiceOut:
        invoice = container.billing.get_invoice(principal, invoice_id)
        return invoice_out(invoice, today=container.billing.today(), prefix=api_prefix)

    @get(
        "/invoices/{invoice_id:str}/pdf",
        summary="The issued invoice as PDF (checked against its SHA-256)",
        media_type="application/pdf",
        opt={"skip_compression": True},
        sync_to_thread=True,
    )
    def pdf(
        self, principal: SignedInPrincipal, container: PortalContainer, invoice_id: FromPath[str]
    ) -> Stream:
        return pdf_response(container.invoice_pdfs.open(principal, invoice_id))

    @get(
        "/credit-notes/{credit_note_id:str}/pdf",
        summary="A credit note as PDF",
        media_type="application/pdf",
        opt={"skip_compression": True},
        sync_to_thread=True,
    )
    def credit_note_pdf(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        credit_note_id: FromPath[str],
    ) -> Stream:
        return pdf_response(container.invoice_pdfs.open_credit_note(principal, credit_note_id))

    @post(
        "/invoices/{invoice_id:str}/issue",
        summary="Issue a draft (staff): numbered, dated, final, printed",
        guards=[requires_staff],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
    )
    def issue(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        api_prefix: ApiPrefix,
        invoice_id: FromPath[str],
    ) -> InvoiceOut:
        invoice = container.billing.issue(principal, invoice_id)
        _render_after_issue(container, principal, invoice.id)
        invoice = container.billing.get_invoice(principal, invoice.id)
        return invoice_out(invoice, today=container.billing.today(), prefix=api_prefix)

    @post(
        "/invoices/{invoice_id:str}/credit-notes",
        summary="Credit an issued invoice (staff)",
        guards=[requires_staff],
        sync_to_thread=True,
    )
    def credit(
        self,
        *,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        api_prefix: ApiPrefix,
        invoice_id: FromPath[str],
        data: JSONBody[CreditNoteIn],
    ) -> Response[CreditNoteOut]:
        def operation() -> CreditNoteOut:
            invoice = container.billing.get_invoice(principal, invoice_id)
            lines = None
            if data.lines is not None:
                lines = tuple(
                    CreditLine(
                        line_number=line.line_number,
                        amount=None
                        if line.amount is None
                        else Money(line.amount, invoice.currency),
                    )
                    for line in data.lines
                )
            note = container.billing.issue_credit_note(
                principal, IssueCreditNote(invoice_id=invoice_id, reason=data.reason, lines=lines)
            )
            try:
                container.invoice_pdfs.render_and_store_credit_note(principal, note.id)
            except Exception:
                log.exception("credit note %s issued, its PDF left to the first download", note.id)
            return credit_note_out(note, prefix=api_prefix)

        return idempotent.respond(operation)

    @post(
        "/organisations/{organisation_id:str}/monthly-run",
        summary="Draft an organisation's invoice for a month that has ended (staff)",
        guards=[requires_staff],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
    )
    def monthly_run(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        api_prefix: ApiPrefix,
        organisation_id: FromPath[str],
        data: JSONBody[MonthlyRunIn],
    ) -> MonthlyRunOut:
        period = BillingPeriod.parse(data.period)
        invoice = container.billing.run_month(principal, organisation_id, period)
        today = container.billing.today()
        return MonthlyRunOut(
            invoice=None
            if invoice is None
            else invoice_out(invoice, today=today, prefix=api_prefix)
        )

    @post(
        "/invoices/{invoice_id:str}/checkout",
        summary="A pay link for what is still due",
        sync_to_thread=True,
    )
    def checkout(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        invoice_id: FromPath[str],
    ) -> Response[CheckoutOut]:
        # The return addresses are the portal's own: a client never names where to be sent.
        base = container.settings.base_url.rstrip("/")
        urls = CheckoutUrls(
            success_url=f"{base}/invoices/{invoice_id}?paid=1",
            cancel_url=f"{base}/invoices/{invoice_id}",
        )

        def operation() -> CheckoutOut:
            found = container.payments.start_checkout(principal, invoice_id, urls)
            expires = None if found.expires_at is None else found.expires_at.isoformat()
            return CheckoutOut(url=found.url, expires_at=expires)

        return idempotent.respond(operation)
