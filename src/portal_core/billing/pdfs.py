"""Invoice and credit-note PDFs: rendered once, stored under a server-made key, served checked.

`render_and_store` prints an issued invoice (`invoice_document`), stores the bytes through the
file store under `org/<organisation>/invoices/<number>.pdf` and keeps the key and SHA-256 with
the invoice (`BillingService.record_invoice_document`); an invoice that has its document is
never printed again. The API calls it right after `issue` commits; if rendering fails there,
the invoice stays issued and the first download renders it. The worker calls it for invoices
issued automatically.

`open` checks access first (clients: their own organisation's issued invoices; anyone else gets
NotFound), then streams the stored bytes while re-computing the SHA-256, and holds back the
last chunk until the digest matches the recorded one: a file changed in storage is refused
(`DocumentTampered`) before it is delivered whole.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

from attrs import frozen

from portal_core.billing.document import (
    InvoiceDocument,
    InvoiceRenderer,
    Party,
    credit_note_document,
    invoice_document,
)
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.service import BillingService
from portal_core.errors import DomainError, InvalidTransition, NotFound
from portal_core.organisations.model import Principal
from portal_core.ports import FileStore, UnitOfWorkFactory

log = logging.getLogger(__name__)

PDF = "application/pdf"
PDF_ACTOR = "invoice-pdfs"


class DocumentTampered(DomainError):
    """The stored PDF's SHA-256 is not the one recorded when it was issued."""

    code = "document_tampered"


@frozen(kw_only=True)
class StoredPdf:
    """A PDF to send: its file name, size and content (checked while it is read)."""

    file_name: str
    size: int
    chunks: Iterator[bytes]


def document_key(organisation_id: str, number: str, *, kind: str = "invoices") -> str:
    """The server-made storage key of a document; the number is the issued, unique one."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in number)
    return f"org/{organisation_id}/{kind}/{safe}.pdf"


class InvoicePdfs:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        files: FileStore,
        renderer: InvoiceRenderer,
        billing: BillingService,
        firm: Party,
    ) -> None:
        self._uow = uow
        self._files = files
        self._renderer = renderer
        self._billing = billing
        self._firm = firm

    # invoices -------------------------------------------------------------------------------

    def render_and_store(self, principal: Principal, invoice_id: str) -> Invoice:
        """Print, store and record an issued invoice's PDF, once (staff or a system actor)."""
        invoice = self._billing.get_invoice(principal, invoice_id)
        if invoice.document_key is not None:
            return invoice
        document = self._invoice_document(invoice)
        key = document_key(invoice.organisation_id, document.number)
        stored = self._files.write(key, [self._renderer.render(document)], PDF)
        log.info("invoice %s printed to %s (%d bytes)", document.number, key, stored.size)
        return self._billing.record_invoice_document(
            principal, invoice.id, key=key, sha256=stored.checksum
        )

    def open(self, principal: Principal, invoice_id: str) -> StoredPdf:
        """The invoice's PDF for `principal`, rendered first if the issue did not manage to."""
        invoice = self._billing.get_invoice(principal, invoice_id)
        number = invoice.number
        if number is None:
            raise NotFound("This invoice has no PDF until it is issued.")
        if invoice.document_key is None or invoice.document_sha256 is None:
            try:
                invoice = self.render_and_store(Principal.system(PDF_ACTOR), invoice.id)
            except InvalidTransition:  # a concurrent download recorded it first
                invoice = self._billing.get_invoice(principal, invoice_id)
        assert invoice.document_key is not None
        assert invoice.document_sha256 is not None
        return self._checked(invoice.document_key, invoice.document_sha256, number)

    # credit notes ---------------------------------------------------------------------------

    def render_and_store_credit_note(self, principal: Principal, credit_note_id: str) -> CreditNote:
        note = self._billing.get_credit_note(principal, credit_note_id)
        if note.document_key is not None:
            return note
        invoice = self._billing.get_invoice(principal, note.invoice_id)
        document = credit_note_document(
            note,
            invoice,
            firm=self._firm,
            client=self._client(invoice.organisation_id),
            case_references=self._case_references(invoice),
        )
        key = document_key(note.organisation_id, note.number, kind="credit-notes")
        stored = self._files.write(key, [self._renderer.render(document)], PDF)
        return self._billing.record_credit_note_document(
            principal, note.id, key=key, sha256=stored.checksum
        )

    def open_credit_note(self, principal: Principal, credit_note_id: str) -> StoredPdf:
        note = self._billing.get_credit_note(principal, credit_note_id)
        if note.document_key is None or note.document_sha256 is None:
            note = self.render_and_store_credit_note(Principal.system(PDF_ACTOR), note.id)
        assert note.document_key is not None
        assert note.document_sha256 is not None
        return self._checked(note.document_key, note.document_sha256, note.number)

    # helpers --------------------------------------------------------------------------------

    def _invoice_document(self, invoice: Invoice) -> InvoiceDocument:
        with self._uow(read_only=True) as uow:
            staff_names = {
                staff_id: user.name
                for staff_id in sorted(
                    {entry.staff_id for line in invoice.lines for entry in line.entries}
                )
                if (user := uow.users.get(staff_id)) is not None
            }
        return invoice_document(
            invoice,
            firm=self._firm,
            client=self._client(invoice.organisation_id),
            staff_names=staff_names,
            case_references=self._case_references(invoice),
        )

    def _client(self, organisation_id: str) -> Party:
        with self._uow(read_only=True) as uow:
            organisation = uow.organisations.get(organisation_id)
        if organisation is None:
            raise NotFound("No such organisation.")
        return Party(name=organisation.name)

    def _case_references(self, invoice: Invoice) -> dict[str, str]:
        case_ids = {line.case_id for line in invoice.lines if line.case_id is not None}
        if invoice.case_id is not None:
            case_ids.add(invoice.case_id)
        with self._uow(read_only=True) as uow:
            return {
                case_id: case.reference
                for case_id in sorted(case_ids)
                if (case := uow.cases.get(case_id)) is not None
            }

    def _checked(self, key: str, sha256: str, number: str) -> StoredPdf:
        stored = self._files.describe(key)
        if stored is None:
            log.error("the stored PDF of %s is missing at %s", number, key)
            raise DocumentTampered(f"The PDF of {number} cannot be found; the firm is told.")
        if stored.checksum != sha256:
            log.error("the stored PDF of %s does not match its recorded SHA-256", number)
            raise DocumentTampered(f"The PDF of {number} failed its integrity check.")
        return StoredPdf(
            file_name=f"{number}.pdf", size=stored.size, chunks=self._verified(key, sha256, number)
        )

    def _verified(self, key: str, sha256: str, number: str) -> Iterator[bytes]:
        digest = hashlib.sha256()
        held: bytes | None = None
        for chunk in self._files.read(key):
            digest.update(chunk)
            if held is not None:
                yield held
            held = chunk
        if digest.hexdigest() != sha256:
            log.error("the PDF of %s changed while it was read", number)
            raise DocumentTampered(f"The PDF of {number} failed its integrity check.")
        if held is not None:
            yield held
