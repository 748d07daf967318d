"""Invoice PDFs: printed once under a server-made key, served only to who may see the invoice,
and never delivered whole when the stored bytes no longer match the recorded SHA-256."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date

import pytest

from adapters.memory import InMemoryFileStore
from portal_core.billing.document import InvoiceDocument, Party
from portal_core.billing.invoice import Invoice
from portal_core.billing.pdfs import DocumentTampered, InvoicePdfs
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.service import LogTime
from portal_core.errors import NotFound
from tests.unit.billing.builders import World, make_world


class PrintedText:
    """A stand-in renderer: the document's number and totals as bytes, one per document."""

    def __init__(self) -> None:
        self.printed: list[str] = []

    def render(self, document: InvoiceDocument) -> bytes:
        self.printed.append(document.number)
        return f"%PDF {document.number} {document.gross}".encode() * 300


class ChangingUnderneath(InMemoryFileStore):
    """A store whose bytes change once `changed` is set, while its description still shows
    the recorded checksum (as on a disk whose metadata file was left alone)."""

    changed = False

    def read(self, key: str) -> Iterator[bytes]:
        data = b"".join(super().read(key))
        if not self.changed:
            yield data
            return
        yield data[:100]
        yield b"X" + data[101:]


def issued(world: World) -> Invoice:
    world.set_contract()
    case = world.open_case()
    world.billing.log_time(
        world.staff,
        LogTime(
            case_id=case.id, role="Senior", work_date=date(2026, 9, 10), minutes=60, description="x"
        ),
    )
    draft = world.billing.run_month(world.staff, "acme", BillingPeriod(2026, 9))
    assert draft is not None
    return world.billing.issue(world.staff, draft.id)


def pdfs_for(world: World, files: InMemoryFileStore, renderer: PrintedText) -> InvoicePdfs:
    return InvoicePdfs(
        uow=world.storage.unit_of_work,
        files=files,
        renderer=renderer,
        billing=world.billing,
        firm=Party(name="Example Partners LLP"),
    )


def test_an_issued_invoice_is_printed_once_under_its_organisation_and_number() -> None:
    world = make_world()
    files = InMemoryFileStore(world.clock)
    renderer = PrintedText()
    pdfs = pdfs_for(world, files, renderer)
    invoice = issued(world)
    stored = pdfs.render_and_store(world.staff, invoice.id)
    assert stored.document_key == f"org/acme/invoices/{invoice.number}.pdf"
    content = b"".join(files.read(stored.document_key))
    assert stored.document_sha256 == hashlib.sha256(content).hexdigest()
    pdfs.render_and_store(world.staff, invoice.id)
    assert renderer.printed == [invoice.number]
    served = pdfs.open(world.acme_billing, invoice.id)
    assert b"".join(served.chunks) == content
    assert served.file_name == f"{invoice.number}.pdf"


def test_a_download_prints_an_invoice_whose_issue_did_not() -> None:
    world = make_world()
    files = InMemoryFileStore(world.clock)
    pdfs = pdfs_for(world, files, PrintedText())
    invoice = issued(world)
    served = pdfs.open(world.acme_billing, invoice.id)
    assert b"".join(served.chunks).startswith(b"%PDF")


def test_another_organisation_or_a_viewer_gets_not_found() -> None:
    world = make_world()
    pdfs = pdfs_for(world, InMemoryFileStore(world.clock), PrintedText())
    invoice = issued(world)
    for outsider in (world.globex_billing, world.acme_viewer):
        with pytest.raises(NotFound):
            pdfs.open(outsider, invoice.id)


def test_bytes_changed_in_storage_are_refused_before_the_last_chunk() -> None:
    world = make_world()
    files = ChangingUnderneath(world.clock)
    pdfs = pdfs_for(world, files, PrintedText())
    invoice = issued(world)
    pdfs.render_and_store(world.staff, invoice.id)
    files.changed = True
    served = pdfs.open(world.acme_billing, invoice.id)
    delivered = []
    with pytest.raises(DocumentTampered):
        delivered.extend(served.chunks)
    assert len(delivered) < 2
    files.put(f"org/acme/invoices/{invoice.number}.pdf", b"%PDF forged", "application/pdf")
    with pytest.raises(DocumentTampered):
        pdfs.open(world.acme_billing, invoice.id)
