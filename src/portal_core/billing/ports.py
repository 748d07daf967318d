"""Billing repositories: what the billing rules need from storage, as `typing.Protocol`s.

The unit of work (`portal_core.ports.UnitOfWork`) carries one of each as `contracts`,
`case_fees`, `time_entries`, `invoices` and `credit_notes`, inside the same transaction as the
audit trail, the outbox and the gap-free counters. Every method's docstring is its contract:
the in-memory fakes (`adapters.memory.billing`) and the SQL adapters behave exactly so.

Orderings are part of the contract, so that lists look the same on every storage. Values are
the immutable domain objects themselves; a repository never hands out something that changes
when stored state changes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Protocol

from portal_core.billing.contract import CaseFee, Contract
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.time_entries import TimeEntry


class ContractRepository(Protocol):
    """Contracts, each for one organisation. The newest one of an organisation is in force."""

    def add(self, contract: Contract) -> None:
        """Store a new contract. Contracts are never changed: a new one replaces the old for
        everything billed afterwards. Raises Conflict when `contract.id` exists already."""
        ...

    def get(self, contract_id: str) -> Contract | None:
        """The contract with this id (in force or replaced), or None."""
        ...

    def current(self, organisation_id: str) -> Contract | None:
        """The organisation's contract in force: the one with the latest `created_at` (of equal
        times, the one added last), or None when it has none."""
        ...


class CaseFeeRepository(Protocol):
    """The fixed fee of each case under a fixed-fee contract (billing data kept beside cases)."""

    def get(self, case_id: str) -> CaseFee | None:
        """The case's fee, or None when none was set."""
        ...

    def put(self, fee: CaseFee) -> None:
        """Set the fee of `fee.case_id`, replacing any earlier one. Never raises for a new case."""
        ...


class TimeEntryRepository(Protocol):
    """Time entries. `invoice_id` changes only through `attach` and `detach`, which is what
    guarantees that no entry is ever on two invoices."""

    def get(self, entry_id: str) -> TimeEntry | None:
        """The entry, or None."""
        ...

    def add(self, entry: TimeEntry) -> None:
        """Store a new entry. Raises Conflict when `entry.id` exists already."""
        ...

    def update(self, entry: TimeEntry, *, expected_version: int) -> None:
        """Store every field of `entry` except `invoice_id`, which keeps its stored value.
        Raises NotFound when there is no such entry and ConcurrencyConflict when the stored
        version is not `expected_version` (nothing is written then)."""
        ...

    def delete(self, entry_id: str, *, expected_version: int) -> None:
        """Remove the entry. Raises NotFound when there is no such entry and
        ConcurrencyConflict when the stored version is not `expected_version`."""
        ...

    def unbilled(
        self, organisation_id: str, *, case_id: str | None = None, through: date | None = None
    ) -> Sequence[TimeEntry]:
        """The organisation's entries on no invoice (billable or not), limited to one case when
        `case_id` is given and to work dates up to and including `through` when given; ordered
        by (work_date, logged_at, id)."""
        ...

    def for_invoice(self, invoice_id: str) -> Sequence[TimeEntry]:
        """The entries an invoice holds, ordered by (work_date, logged_at, id)."""
        ...

    def for_case(self, case_id: str) -> Sequence[TimeEntry]:
        """Every entry of the case, billed or not, ordered by (work_date, logged_at, id)."""
        ...

    def attach(self, entry_ids: Collection[str], invoice_id: str) -> None:
        """Put the entries on `invoice_id`, all or none: raises ConcurrencyConflict, changing
        nothing, when any of them does not exist or is already on an invoice (in SQL:
        `UPDATE ... WHERE invoice_id IS NULL` and compare the row count)."""
        ...

    def detach(self, invoice_id: str) -> None:
        """Take every entry off `invoice_id` (a draft being recomputed), leaving them unbilled.
        Does nothing when the invoice holds no entries."""
        ...


class InvoiceRepository(Protocol):
    """Invoices. An organisation never has two invoices with one `billing_key` (a month, or a
    case), and no two invoices share a number: the storage enforces both."""

    def get(self, invoice_id: str) -> Invoice | None:
        """The invoice, or None."""
        ...

    def add(self, invoice: Invoice) -> None:
        """Store a new invoice. Raises Conflict when its id exists, when the organisation has
        an invoice with the same `billing_key`, or when its number (if any) is taken."""
        ...

    def update(self, invoice: Invoice, *, expected_version: int) -> None:
        """Store `invoice` over the stored one. Raises NotFound when there is none,
        ConcurrencyConflict when the stored version is not `expected_version`, Conflict when
        its number is another invoice's. Nothing is written when it raises."""
        ...

    def by_billing_key(self, organisation_id: str, billing_key: str) -> Invoice | None:
        """The organisation's invoice for that month or case ("period:2026-10", "case:<id>")."""
        ...

    def by_number(self, number: str) -> Invoice | None:
        """The issued invoice with this number, or None."""
        ...

    def for_case(self, case_id: str) -> Sequence[Invoice]:
        """Every invoice whose lines charge or show the case (the case's own invoices and the
        monthly invoices with a line for it), oldest first: ordered by (created_at, id)."""
        ...

    def list(self, *, organisation_id: str | None, include_drafts: bool) -> Sequence[Invoice]:
        """Invoices of one organisation (of all when None), drafts only when asked; newest
        first: ordered by (created_at, id) descending."""
        ...


class CreditNoteRepository(Protocol):
    """Credit notes: issued once, never changed except to record their rendered document."""

    def get(self, credit_note_id: str) -> CreditNote | None:
        """The credit note, or None."""
        ...

    def add(self, credit_note: CreditNote) -> None:
        """Store a new credit note. Raises Conflict when its id or its number exists already."""
        ...

    def update(self, credit_note: CreditNote) -> None:
        """Store `credit_note` over the stored one (only its document changes). Raises
        NotFound when there is none."""
        ...

    def for_invoice(self, invoice_id: str) -> Sequence[CreditNote]:
        """The invoice's credit notes, oldest first: ordered by (issued_at, number)."""
        ...

    def list(self, *, organisation_id: str | None) -> Sequence[CreditNote]:
        """Credit notes of one organisation (of all when None), newest first: ordered by
        (issued_at, number) descending."""
        ...
