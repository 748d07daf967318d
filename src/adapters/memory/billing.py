"""In-memory billing repositories: contracts, case fees, time entries, invoices, credit notes.

They work on the unit of work's private `InMemoryState` copy, like the other in-memory
repositories, so a failed command leaves nothing half-written. Each follows the contract in
its Protocol's docstrings (`portal_core.billing.ports`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import TYPE_CHECKING

from attrs import evolve

from portal_core.billing.contract import CaseFee, Contract
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.time_entries import TimeEntry
from portal_core.errors import ConcurrencyConflict, Conflict, NotFound

if TYPE_CHECKING:
    from adapters.memory.store import InMemoryState


def _entry_order(entry: TimeEntry) -> tuple[date, str, str]:
    return (entry.work_date, entry.logged_at.isoformat(), entry.id)


class InMemoryContractRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def add(self, contract: Contract) -> None:
        if any(c.id == contract.id for c in self._state.contracts):
            raise Conflict(f"Contract {contract.id} exists already.")
        self._state.contracts.append(contract)

    def get(self, contract_id: str) -> Contract | None:
        return next((c for c in self._state.contracts if c.id == contract_id), None)

    def current(self, organisation_id: str) -> Contract | None:
        mine = [
            (contract.created_at, position, contract)
            for position, contract in enumerate(self._state.contracts)
            if contract.organisation_id == organisation_id
        ]
        return max(mine, key=lambda item: (item[0], item[1]))[2] if mine else None


class InMemoryCaseFeeRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, case_id: str) -> CaseFee | None:
        return self._state.case_fees.get(case_id)

    def put(self, fee: CaseFee) -> None:
        self._state.case_fees[fee.case_id] = fee


class InMemoryTimeEntryRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, entry_id: str) -> TimeEntry | None:
        return self._state.time_entries.get(entry_id)

    def add(self, entry: TimeEntry) -> None:
        if entry.id in self._state.time_entries:
            raise Conflict(f"Time entry {entry.id} exists already.")
        self._state.time_entries[entry.id] = entry

    def _stored(self, entry_id: str, expected_version: int) -> TimeEntry:
        stored = self._state.time_entries.get(entry_id)
        if stored is None:
            raise NotFound("No such time entry.")
        if stored.version != expected_version:
            raise ConcurrencyConflict("The time entry was changed by someone else; reload it.")
        return stored

    def update(self, entry: TimeEntry, *, expected_version: int) -> None:
        stored = self._stored(entry.id, expected_version)
        self._state.time_entries[entry.id] = evolve(entry, invoice_id=stored.invoice_id)

    def delete(self, entry_id: str, *, expected_version: int) -> None:
        self._stored(entry_id, expected_version)
        del self._state.time_entries[entry_id]

    def unbilled(
        self, organisation_id: str, *, case_id: str | None = None, through: date | None = None
    ) -> Sequence[TimeEntry]:
        return sorted(
            (
                e
                for e in self._state.time_entries.values()
                if e.organisation_id == organisation_id
                and e.invoice_id is None
                and (case_id is None or e.case_id == case_id)
                and (through is None or e.work_date <= through)
            ),
            key=_entry_order,
        )

    def for_invoice(self, invoice_id: str) -> Sequence[TimeEntry]:
        return sorted(
            (e for e in self._state.time_entries.values() if e.invoice_id == invoice_id),
            key=_entry_order,
        )

    def for_case(self, case_id: str) -> Sequence[TimeEntry]:
        return sorted(
            (e for e in self._state.time_entries.values() if e.case_id == case_id),
            key=_entry_order,
        )

    def attach(self, entry_ids: Collection[str], invoice_id: str) -> None:
        entries = [self._state.time_entries.get(entry_id) for entry_id in entry_ids]
        if any(entry is None or entry.invoice_id is not None for entry in entries):
            raise ConcurrencyConflict(
                "Some of this time was billed or changed meanwhile; run the billing again."
            )
        for entry in entries:
            assert entry is not None
            self._state.time_entries[entry.id] = evolve(entry, invoice_id=invoice_id)

    def detach(self, invoice_id: str) -> None:
        for entry in list(self._state.time_entries.values()):
            if entry.invoice_id == invoice_id:
                self._state.time_entries[entry.id] = evolve(entry, invoice_id=None)


class InMemoryInvoiceRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, invoice_id: str) -> Invoice | None:
        return self._state.invoices.get(invoice_id)

    def _check_unique(self, invoice: Invoice) -> None:
        for other in self._state.invoices.values():
            if other.id == invoice.id:
                continue
            if (other.organisation_id, other.billing_key) == (
                invoice.organisation_id,
                invoice.billing_key,
            ):
                raise Conflict(f"The organisation has an invoice for {invoice.billing_key}.")
            if invoice.number is not None and other.number == invoice.number:
                raise Conflict(f"Invoice number {invoice.number} is taken.")

    def add(self, invoice: Invoice) -> None:
        if invoice.id in self._state.invoices:
            raise Conflict(f"Invoice {invoice.id} exists already.")
        self._check_unique(invoice)
        self._state.invoices[invoice.id] = invoice

    def update(self, invoice: Invoice, *, expected_version: int) -> None:
        stored = self._state.invoices.get(invoice.id)
        if stored is None:
            raise NotFound("No such invoice.")
        if stored.version != expected_version:
            raise ConcurrencyConflict("The invoice was changed by someone else; reload it.")
        self._check_unique(invoice)
        self._state.invoices[invoice.id] = invoice

    def by_billing_key(self, organisation_id: str, billing_key: str) -> Invoice | None:
        return next(
            (
                i
                for i in self._state.invoices.values()
                if i.organisation_id == organisation_id and i.billing_key == billing_key
            ),
            None,
        )

    def by_number(self, number: str) -> Invoice | None:
        return next((i for i in self._state.invoices.values() if i.number == number), None)

    def for_case(self, case_id: str) -> Sequence[Invoice]:
        return sorted(
            (
                i
                for i in self._state.invoices.values()
                if i.case_id == case_id or any(line.case_id == case_id for line in i.lines)
            ),
            key=lambda i: (i.created_at, i.id),
        )

    def list(self, *, organisation_id: str | None, include_drafts: bool) -> Sequence[Invoice]:
        return sorted(
            (
                i
                for i in self._state.invoices.values()
                if (organisation_id is None or i.organisation_id == organisation_id)
                and (include_drafts or not i.is_draft)
            ),
            key=lambda i: (i.created_at, i.id),
            reverse=True,
        )


class InMemoryCreditNoteRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, credit_note_id: str) -> CreditNote | None:
        return self._state.credit_notes.get(credit_note_id)

    def add(self, credit_note: CreditNote) -> None:
        if credit_note.id in self._state.credit_notes or any(
            c.number == credit_note.number for c in self._state.credit_notes.values()
        ):
            raise Conflict(f"Credit note {credit_note.number} exists already.")
        self._state.credit_notes[credit_note.id] = credit_note

    def update(self, credit_note: CreditNote) -> None:
        if credit_note.id not in self._state.credit_notes:
            raise NotFound("No such credit note.")
        self._state.credit_notes[credit_note.id] = credit_note

    def for_invoice(self, invoice_id: str) -> Sequence[CreditNote]:
        return sorted(
            (c for c in self._state.credit_notes.values() if c.invoice_id == invoice_id),
            key=lambda c: (c.issued_at, c.number),
        )

    def list(self, *, organisation_id: str | None) -> Sequence[CreditNote]:
        return sorted(
            (
                c
                for c in self._state.credit_notes.values()
                if organisation_id is None or c.organisation_id == organisation_id
            ),
            key=lambda c: (c.issued_at, c.number),
            reverse=True,
        )
