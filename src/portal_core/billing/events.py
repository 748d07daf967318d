"""Billing events: facts in the past tense, recorded with the change (audit and outbox).

Amounts travel as strings ("540.00") with their currency, never as floats.
"""

from __future__ import annotations

from datetime import date

from attrs import frozen

from portal_core.events import DomainEvent


@frozen(kw_only=True)
class ContractSet(DomainEvent):
    kind = "contract.set"

    contract_id: str
    contract_kind: str
    grouping: str
    currency: str


@frozen(kw_only=True)
class CaseFeeSet(DomainEvent):
    kind = "case_fee.set"

    case_id: str
    case_type: str | None
    price: str | None


@frozen(kw_only=True)
class TimeLogged(DomainEvent):
    kind = "time.logged"

    entry_id: str
    case_id: str
    staff_id: str
    minutes: int
    billable: bool


@frozen(kw_only=True)
class TimeEntryEdited(DomainEvent):
    kind = "time.edited"

    entry_id: str
    case_id: str
    minutes: int
    billable: bool


@frozen(kw_only=True)
class TimeEntryDeleted(DomainEvent):
    kind = "time.deleted"

    entry_id: str
    case_id: str


@frozen(kw_only=True)
class InvoiceDrafted(DomainEvent):
    kind = "invoice.drafted"

    invoice_id: str
    billing_key: str
    case_id: str | None
    period: str | None
    gross: str
    currency: str


@frozen(kw_only=True)
class InvoiceRecomputed(DomainEvent):
    kind = "invoice.recomputed"

    invoice_id: str
    gross: str
    currency: str


@frozen(kw_only=True)
class InvoiceIssued(DomainEvent):
    """The invoice is final: render and store its PDF, notify the client's billing contacts."""

    kind = "invoice.issued"

    invoice_id: str
    number: str
    gross: str
    currency: str
    issue_date: date
    due_date: date


@frozen(kw_only=True)
class InvoiceDocumentStored(DomainEvent):
    kind = "invoice.document_stored"

    invoice_id: str
    document_key: str
    sha256: str


@frozen(kw_only=True)
class PaymentRecorded(DomainEvent):
    kind = "invoice.payment_recorded"

    invoice_id: str
    payment_id: str
    reference: str
    amount: str
    currency: str
    status: str
    overpaid: str
    """What was paid beyond the balance: owed back to the client ("0.00" normally)."""


@frozen(kw_only=True)
class CreditNoteIssued(DomainEvent):
    """A correction is final: render and store its PDF, notify the client's billing contacts."""

    kind = "credit_note.issued"

    credit_note_id: str
    number: str
    invoice_id: str
    invoice_number: str
    gross: str
    currency: str


@frozen(kw_only=True)
class CreditNoteDocumentStored(DomainEvent):
    kind = "credit_note.document_stored"

    credit_note_id: str
    document_key: str
    sha256: str
