"""SQL billing repositories: contracts, case fees, time entries, invoices, credit notes.

Each follows the contract in its Protocol's docstrings (`portal_core.billing.ports`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, Select, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql import tables as t
from adapters.sql.errors import guarded
from adapters.sql.repositories import Database
from portal_core.billing.contract import CaseFee, Contract
from portal_core.billing.invoice import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceCalculation,
    Payment,
)
from portal_core.billing.money import Money
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.time_entries import TimeEntry
from portal_core.errors import ConcurrencyConflict, NotFound


class SqlContractRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _load(self, row: Row[Any] | None) -> Contract | None:
        if row is None:
            return None
        contract: Contract = self._db.codec.converter.structure(row.document, Contract)
        return contract

    def add(self, contract: Contract) -> None:
        with guarded(
            self._db.connection,
            duplicates={frozenset({"contracts.id"}): f"Contract {contract.id} exists already."},
            missing="The contract's organisation does not exist.",
        ):
            self._db.execute(
                insert(t.contracts).values(
                    id=contract.id,
                    organisation_id=contract.organisation_id,
                    kind=contract.kind.value,
                    currency=contract.currency,
                    created_at=contract.created_at,
                    document=self._db.codec.converter.unstructure(contract),
                )
            )

    def get(self, contract_id: str) -> Contract | None:
        c = t.contracts.c
        return self._load(self._db.execute(select(c.document).where(c.id == contract_id)).first())

    def current(self, organisation_id: str) -> Contract | None:
        c = t.contracts.c
        newest = (
            select(c.document)
            .where(c.organisation_id == organisation_id)
            .order_by(c.created_at.desc(), c.sequence.desc())
            .limit(1)
        )
        return self._load(self._db.execute(newest).first())


class SqlCaseFeeRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, case_id: str) -> CaseFee | None:
        f = t.case_fees.c
        row = self._db.execute(select(t.case_fees).where(f.case_id == case_id)).first()
        if row is None:
            return None
        return CaseFee(
            case_id=row.case_id,
            organisation_id=row.organisation_id,
            case_type=row.case_type,
            price=row.price,
        )

    def put(self, fee: CaseFee) -> None:
        values = {
            "case_id": fee.case_id,
            "organisation_id": fee.organisation_id,
            "case_type": fee.case_type,
            "price": fee.price,
        }
        dialect_insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(t.case_fees).values(values)
        with guarded(
            self._db.connection,
            duplicates={frozenset({"case_fees.case_id"}): "The case has a fee already."},
            missing="The fee's case or organisation does not exist.",
        ):
            self._db.execute(
                statement.on_conflict_do_update(
                    index_elements=[t.case_fees.c.case_id],
                    set_={
                        "organisation_id": statement.excluded.organisation_id,
                        "case_type": statement.excluded.case_type,
                        "price": statement.excluded.price,
                    },
                )
            )


def _time_entry(row: Row[Any]) -> TimeEntry:
    return TimeEntry(
        id=row.id,
        organisation_id=row.organisation_id,
        case_id=row.case_id,
        staff_id=row.staff_id,
        role=row.role,
        work_date=row.work_date,
        minutes=row.minutes,
        description=row.description,
        billable=row.billable,
        invoice_id=row.invoice_id,
        logged_at=row.logged_at,
        version=row.version,
    )


def _time_entry_values(entry: TimeEntry) -> dict[str, Any]:
    """Every column but `invoice_id`, which only `attach` and `detach` change."""
    return {
        "id": entry.id,
        "organisation_id": entry.organisation_id,
        "case_id": entry.case_id,
        "staff_id": entry.staff_id,
        "role": entry.role,
        "work_date": entry.work_date,
        "minutes": entry.minutes,
        "description": entry.description,
        "billable": entry.billable,
        "logged_at": entry.logged_at,
        "version": entry.version,
    }


class SqlTimeEntryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _entries(self, *conditions: Any) -> list[TimeEntry]:
        e = t.time_entries.c
        rows = self._db.execute(
            select(t.time_entries).where(*conditions).order_by(e.work_date, e.logged_at, e.id)
        )
        return [_time_entry(row) for row in rows]

    def get(self, entry_id: str) -> TimeEntry | None:
        found = self._entries(t.time_entries.c.id == entry_id)
        return found[0] if found else None

    def add(self, entry: TimeEntry) -> None:
        with guarded(
            self._db.connection,
            duplicates={frozenset({"time_entries.id"}): f"Time entry {entry.id} exists already."},
            missing="The time entry's case or organisation does not exist.",
            invalid="A time entry records at least 1 minute.",
        ):
            self._db.execute(
                insert(t.time_entries).values(
                    {**_time_entry_values(entry), "invoice_id": entry.invoice_id}
                )
            )

    def _refuse_stale(self, entry_id: str) -> None:
        if self.get(entry_id) is None:
            raise NotFound("No such time entry.")
        raise ConcurrencyConflict("The time entry was changed by someone else; reload it.")

    def update(self, entry: TimeEntry, *, expected_version: int) -> None:
        e = t.time_entries.c
        with guarded(
            self._db.connection,
            duplicates={frozenset({"time_entries.id"}): "That time entry exists already."},
            missing="The time entry's case or organisation does not exist.",
            invalid="A time entry records at least 1 minute.",
        ):
            result = self._db.execute(
                update(t.time_entries)
                .where(e.id == entry.id, e.version == expected_version)
                .values(_time_entry_values(entry))
            )
        if result.rowcount != 1:
            self._refuse_stale(entry.id)

    def delete(self, entry_id: str, *, expected_version: int) -> None:
        e = t.time_entries.c
        result = self._db.execute(
            delete(t.time_entries).where(e.id == entry_id, e.version == expected_version)
        )
        if result.rowcount != 1:
            self._refuse_stale(entry_id)

    def unbilled(
        self, organisation_id: str, *, case_id: str | None = None, through: date | None = None
    ) -> Sequence[TimeEntry]:
        e = t.time_entries.c
        conditions: list[Any] = [e.organisation_id == organisation_id, e.invoice_id.is_(None)]
        if case_id is not None:
            conditions.append(e.case_id == case_id)
        if through is not None:
            conditions.append(e.work_date <= through)
        return self._entries(*conditions)

    def for_invoice(self, invoice_id: str) -> Sequence[TimeEntry]:
        return self._entries(t.time_entries.c.invoice_id == invoice_id)

    def for_case(self, case_id: str) -> Sequence[TimeEntry]:
        return self._entries(t.time_entries.c.case_id == case_id)

    def attach(self, entry_ids: Collection[str], invoice_id: str) -> None:
        wanted = sorted(set(entry_ids))
        if not wanted:
            return
        e = t.time_entries.c
        # All or none: the savepoint is undone when any entry is gone or billed meanwhile.
        savepoint = self._db.connection.begin_nested()
        result = self._db.execute(
            update(t.time_entries)
            .where(e.id.in_(wanted), e.invoice_id.is_(None))
            .values(invoice_id=invoice_id)
        )
        if result.rowcount != len(wanted):
            savepoint.rollback()
            raise ConcurrencyConflict(
                "Some of this time was billed or changed meanwhile; run the billing again."
            )
        savepoint.commit()

    def detach(self, invoice_id: str) -> None:
        e = t.time_entries.c
        self._db.execute(
            update(t.time_entries).where(e.invoice_id == invoice_id).values(invoice_id=None)
        )


def _invoice_duplicates(invoice: Invoice) -> dict[frozenset[str], str]:
    return {
        frozenset({"invoices.id"}): f"Invoice {invoice.id} exists already.",
        frozenset(
            {"invoices.organisation_id", "invoices.billing_key"}
        ): f"The organisation has an invoice for {invoice.billing_key}.",
        frozenset({"invoices.number"}): f"Invoice number {invoice.number} is taken.",
    }


class SqlInvoiceRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _values(self, invoice: Invoice) -> dict[str, Any]:
        return {
            "id": invoice.id,
            "organisation_id": invoice.organisation_id,
            "contract_id": invoice.contract_id,
            "billing_key": invoice.billing_key,
            "case_id": invoice.case_id,
            "period": invoice.period.key if invoice.period is not None else None,
            "currency": invoice.currency,
            "net": invoice.net.amount,
            "tax": invoice.tax.amount,
            "gross": invoice.gross.amount,
            "amount_paid": invoice.amount_paid.amount,
            "amount_credited": invoice.amount_credited.amount,
            "calculation": self._db.codec.converter.unstructure(invoice.calculation),
            "number": invoice.number,
            "issued_at": invoice.issued_at,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "document_key": invoice.document_key,
            "document_sha256": invoice.document_sha256,
            "created_at": invoice.created_at,
            "updated_at": invoice.updated_at,
            "version": invoice.version,
        }

    def _write_children(self, invoice: Invoice) -> None:
        self._db.execute(delete(t.invoice_cases).where(t.invoice_cases.c.invoice_id == invoice.id))
        self._db.execute(
            delete(t.invoice_payments).where(t.invoice_payments.c.invoice_id == invoice.id)
        )
        case_ids = {line.case_id for line in invoice.lines if line.case_id is not None}
        if invoice.case_id is not None:
            case_ids.add(invoice.case_id)
        if case_ids:
            self._db.execute(
                insert(t.invoice_cases),
                [{"invoice_id": invoice.id, "case_id": case_id} for case_id in sorted(case_ids)],
            )
        if invoice.payments:
            self._db.execute(
                insert(t.invoice_payments),
                [
                    {
                        "invoice_id": invoice.id,
                        "position": position,
                        "id": payment.id,
                        "amount": payment.amount.amount,
                        "currency": payment.amount.currency,
                        "received_on": payment.received_on,
                        "reference": payment.reference,
                        "recorded_at": payment.recorded_at,
                    }
                    for position, payment in enumerate(invoice.payments)
                ],
            )

    def _load(self, statement: Select[Any]) -> list[Invoice]:
        rows = self._db.execute(statement).all()
        if not rows:
            return []
        p = t.invoice_payments.c
        payments: dict[str, list[Payment]] = {row.id: [] for row in rows}
        for payment in self._db.execute(
            select(t.invoice_payments)
            .where(p.invoice_id.in_(list(payments)))
            .order_by(p.invoice_id, p.position)
        ):
            payments[payment.invoice_id].append(
                Payment(
                    id=payment.id,
                    amount=Money(payment.amount, payment.currency),
                    received_on=payment.received_on,
                    reference=payment.reference,
                    recorded_at=payment.recorded_at,
                )
            )
        converter = self._db.codec.converter
        return [
            Invoice(
                id=row.id,
                organisation_id=row.organisation_id,
                contract_id=row.contract_id,
                billing_key=row.billing_key,
                case_id=row.case_id,
                period=BillingPeriod.parse(row.period) if row.period is not None else None,
                calculation=converter.structure(row.calculation, InvoiceCalculation),
                created_at=row.created_at,
                updated_at=row.updated_at,
                number=row.number,
                issued_at=row.issued_at,
                issue_date=row.issue_date,
                due_date=row.due_date,
                payments=tuple(payments[row.id]),
                amount_credited=Money(row.amount_credited, row.currency),
                document_key=row.document_key,
                document_sha256=row.document_sha256,
                version=row.version,
            )
            for row in rows
        ]

    def _one(self, *conditions: Any) -> Invoice | None:
        found = self._load(select(t.invoices).where(*conditions))
        return found[0] if found else None

    def get(self, invoice_id: str) -> Invoice | None:
        return self._one(t.invoices.c.id == invoice_id)

    def add(self, invoice: Invoice) -> None:
        with guarded(
            self._db.connection,
            duplicates=_invoice_duplicates(invoice),
            missing="The invoice's organisation or contract does not exist.",
        ):
            self._db.execute(insert(t.invoices).values(self._values(invoice)))
            self._write_children(invoice)

    def update(self, invoice: Invoice, *, expected_version: int) -> None:
        i = t.invoices.c
        with guarded(
            self._db.connection,
            duplicates=_invoice_duplicates(invoice),
            missing="The invoice's organisation or contract does not exist.",
        ):
            result = self._db.execute(
                update(t.invoices)
                .where(i.id == invoice.id, i.version == expected_version)
                .values(self._values(invoice))
            )
            if result.rowcount == 1:
                self._write_children(invoice)
        if result.rowcount == 1:
            return
        if self.get(invoice.id) is None:
            raise NotFound("No such invoice.")
        raise ConcurrencyConflict("The invoice was changed by someone else; reload it.")

    def by_billing_key(self, organisation_id: str, billing_key: str) -> Invoice | None:
        i = t.invoices.c
        return self._one(i.organisation_id == organisation_id, i.billing_key == billing_key)

    def by_number(self, number: str) -> Invoice | None:
        return self._one(t.invoices.c.number == number)

    def for_case(self, case_id: str) -> Sequence[Invoice]:
        i, ic = t.invoices.c, t.invoice_cases.c
        showing = select(ic.invoice_id).where(ic.case_id == case_id)
        return self._load(select(t.invoices).where(i.id.in_(showing)).order_by(i.created_at, i.id))

    def list(self, *, organisation_id: str | None, include_drafts: bool) -> Sequence[Invoice]:
        i = t.invoices.c
        statement = select(t.invoices).order_by(i.created_at.desc(), i.id.desc())
        if organisation_id is not None:
            statement = statement.where(i.organisation_id == organisation_id)
        if not include_drafts:
            statement = statement.where(i.number.is_not(None))
        return self._load(statement)


class SqlCreditNoteRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _values(self, note: CreditNote) -> dict[str, Any]:
        return {
            "id": note.id,
            "number": note.number,
            "invoice_id": note.invoice_id,
            "invoice_number": note.invoice_number,
            "organisation_id": note.organisation_id,
            "currency": note.currency,
            "net": note.net.amount,
            "tax": note.tax.amount,
            "gross": note.gross.amount,
            "lines": self._db.codec.converter.unstructure(note.lines, tuple[CreditNoteLine, ...]),
            "reason": note.reason,
            "issued_at": note.issued_at,
            "issue_date": note.issue_date,
            "document_key": note.document_key,
            "document_sha256": note.document_sha256,
        }

    def _load(self, statement: Select[Any]) -> list[CreditNote]:
        converter = self._db.codec.converter
        return [
            CreditNote(
                id=row.id,
                number=row.number,
                invoice_id=row.invoice_id,
                invoice_number=row.invoice_number,
                organisation_id=row.organisation_id,
                lines=converter.structure(row.lines, tuple[CreditNoteLine, ...]),
                tax=Money(row.tax, row.currency),
                reason=row.reason,
                issued_at=row.issued_at,
                issue_date=row.issue_date,
                document_key=row.document_key,
                document_sha256=row.document_sha256,
            )
            for row in self._db.execute(statement)
        ]

    def get(self, credit_note_id: str) -> CreditNote | None:
        found = self._load(select(t.credit_notes).where(t.credit_notes.c.id == credit_note_id))
        return found[0] if found else None

    def add(self, credit_note: CreditNote) -> None:
        message = f"Credit note {credit_note.number} exists already."
        with guarded(
            self._db.connection,
            duplicates={
                frozenset({"credit_notes.id"}): message,
                frozenset({"credit_notes.number"}): message,
            },
            missing="The credited invoice does not exist.",
        ):
            self._db.execute(insert(t.credit_notes).values(self._values(credit_note)))

    def update(self, credit_note: CreditNote) -> None:
        with guarded(
            self._db.connection,
            duplicates={frozenset({"credit_notes.number"}): "That credit note number is taken."},
        ):
            result = self._db.execute(
                update(t.credit_notes)
                .where(t.credit_notes.c.id == credit_note.id)
                .values(self._values(credit_note))
            )
        if result.rowcount != 1:
            raise NotFound("No such credit note.")

    def for_invoice(self, invoice_id: str) -> Sequence[CreditNote]:
        c = t.credit_notes.c
        return self._load(
            select(t.credit_notes).where(c.invoice_id == invoice_id).order_by(c.issued_at, c.number)
        )

    def list(self, *, organisation_id: str | None) -> Sequence[CreditNote]:
        c = t.credit_notes.c
        statement = select(t.credit_notes).order_by(c.issued_at.desc(), c.number.desc())
        if organisation_id is not None:
            statement = statement.where(c.organisation_id == organisation_id)
        return self._load(statement)
