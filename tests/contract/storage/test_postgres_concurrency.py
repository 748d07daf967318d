"""PostgreSQL under concurrent workers: each test runs threads with their own units of work."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from attrs import evolve
from sqlalchemy import event, insert

from adapters.sql import SqlStorage
from adapters.sql.serialisation import EventCodec
from adapters.sql.tables import outbox_messages
from portal_core.audit import AuditRecord
from portal_core.errors import ConcurrencyConflict
from portal_core.ports import OutboxMessage

from .billing_factories import case_invoice, hourly_contract, issued
from .factories import T0, at, audit_record, case, organisation, submitted_case

pytestmark = pytest.mark.postgres

WORKERS = 8


def test_one_event_recorded_by_eight_workers_a_thousand_times_is_processed_once(
    postgres_storage: SqlStorage,
) -> None:
    submitted = submitted_case("c-1")[1]

    def handle(attempt: int) -> bool:
        with postgres_storage.unit_of_work() as work:
            first = work.processed_events.record("salesforce", "notification-1", at=at(0))
            if first:  # the change and its side effect, in the same transaction
                work.outbox.add(
                    OutboxMessage(
                        id=f"m-{attempt}", event=submitted, created_at=T0, available_at=T0
                    )
                )
            work.commit()
            return first

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(handle, range(1000)))
    assert outcomes.count(True) == 1
    with postgres_storage.unit_of_work() as work:
        assert work.outbox.pending_count() == 1


def test_concurrent_invoice_issues_with_rollbacks_number_without_gaps(
    postgres_storage: SqlStorage,
) -> None:
    with postgres_storage.unit_of_work() as work:
        work.organisations.add(organisation("org-1"))
        work.contracts.add(hourly_contract())
        for attempt in range(200):
            work.invoices.add(case_invoice(f"inv-{attempt:03d}", f"c-{attempt:03d}"))
        work.commit()

    def issue(attempt: int) -> str | None:
        with postgres_storage.unit_of_work() as work:
            draft = work.invoices.get(f"inv-{attempt:03d}")
            assert draft is not None
            number = f"INV-2026-{work.counters.next_value('INV-2026'):04d}"
            work.invoices.update(issued(draft, number), expected_version=draft.version)
            work.audit.append(
                AuditRecord(
                    id=f"issue-{attempt}",
                    at=at(attempt),
                    actor_id="staff-1",
                    organisation_id="org-1",
                    action="invoice.issued",
                    subject_type="invoice",
                    subject_id=draft.id,
                    details={"number": number},
                )
            )
            if attempt % 10 == 0:  # one issue in ten fails after taking its number
                work.rollback()
                return None
            work.commit()
            return number

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        numbers = [n for n in pool.map(issue, range(200)) if n is not None]
    expected = [f"INV-2026-{n:04d}" for n in range(1, 181)]
    assert sorted(numbers) == expected
    with postgres_storage.unit_of_work() as work:
        stored = work.invoices.list(organisation_id="org-1", include_drafts=False)
        audited = [entry.record.details["number"] for entry in work.audit.entries()]
    assert sorted(i.number or "" for i in stored) == expected
    assert sorted(audited) == expected
    verification = postgres_storage.verify_audit_chain()
    assert (verification.ok, verification.entries_checked) == (True, 180)


def test_four_workers_deliver_ten_thousand_outbox_messages_exactly_once(
    postgres_storage: SqlStorage,
) -> None:
    # Seeded in one statement: the enqueueing is not what is tested here (and is slow row by row).
    kind, document = EventCodec().dump(submitted_case("c-1")[1])
    with postgres_storage.engine.begin() as connection:
        connection.execute(
            insert(outbox_messages),
            [
                {
                    "id": f"m-{number:05d}",
                    "kind": kind,
                    "payload": document,
                    "created_at": T0 + timedelta(microseconds=number),
                    "attempts": 0,
                    "available_at": T0 + timedelta(microseconds=number),
                }
                for number in range(10_000)
            ],
        )

    def deliver(worker: int) -> list[str]:
        delivered: list[str] = []
        while True:
            with postgres_storage.unit_of_work() as work:
                batch = work.outbox.claim(limit=50, now=at(1), lease=timedelta(minutes=5))
                if not batch:
                    return delivered
                for message in batch:
                    delivered.append(message.id)
                    work.outbox.mark_delivered(message.id, at=at(1))
                work.commit()

    with ThreadPoolExecutor(max_workers=4) as pool:
        per_worker = list(pool.map(deliver, range(4)))
    everything = Counter(message_id for delivered in per_worker for message_id in delivered)
    assert len(everything) == 10_000
    assert everything.most_common(1)[0][1] == 1
    assert sum(1 for delivered in per_worker if delivered) >= 2  # the work was shared
    with postgres_storage.unit_of_work() as work:
        assert work.outbox.pending_count() == 0


def test_of_two_simultaneous_edits_of_a_case_one_is_refused(
    postgres_storage: SqlStorage,
) -> None:
    with postgres_storage.unit_of_work() as work:
        work.organisations.add(organisation("org-1"))
        work.cases.add(case("c-1"))
        work.commit()
    both_read = threading.Barrier(2)

    def assign(assignee: str) -> str:
        with postgres_storage.unit_of_work() as work:
            current = work.cases.get("c-1")
            assert current is not None
            both_read.wait(timeout=10)
            changed, _ = current.assign(assignee, actor_id=assignee, event_id=assignee, at=at(1))
            try:
                work.cases.update(changed, expected_version=current.version)
            except ConcurrencyConflict:
                return "refused"
            work.commit()
            return "kept"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(assign, ["s-1", "s-2"]))
    assert outcomes == ["kept", "refused"]
    with postgres_storage.unit_of_work() as work:
        stored = work.cases.get("c-1")
    assert stored is not None
    assert stored.version == 2
    assert stored.assignee_id in {"s-1", "s-2"}


def test_concurrent_writers_extend_one_intact_audit_chain(postgres_storage: SqlStorage) -> None:
    def append(worker: int) -> None:
        for n in range(50):
            with postgres_storage.unit_of_work() as work:
                work.audit.append(
                    AuditRecord(
                        id=f"w{worker}-{n}",
                        at=at(n),
                        actor_id=f"worker-{worker}",
                        organisation_id="org-1",
                        action="case.comment_added",
                        subject_type="case",
                        subject_id="c-1",
                        details={"n": str(n)},
                    )
                )
                work.commit()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(append, range(4)))
    verification = postgres_storage.verify_audit_chain()
    assert verification.ok
    assert verification.entries_checked == 200


def test_a_batch_of_event_ids_is_one_statement_text_whatever_its_size(
    postgres_storage: SqlStorage,
) -> None:
    """The server prepares a statement it sees again: a text that grew with the batch (one
    VALUES row per id) was parsed and planned anew for every message."""
    sent: list[str] = []

    def remember(*args: object) -> None:
        sent.append(str(args[2]))  # (connection, cursor, statement, ...)

    event.listen(postgres_storage.engine, "before_cursor_execute", remember)
    try:
        for size in (1, 7, 100):
            with postgres_storage.unit_of_work() as work:
                ids = [("salesforce", f"{size}-{n}") for n in range(size)]
                assert len(work.processed_events.record_many(ids, at=at(0))) == size
                work.commit()
    finally:
        event.remove(postgres_storage.engine, "before_cursor_execute", remember)
    recorded = {text for text in sent if "processed_events" in text}
    assert len(recorded) == 1, recorded


def test_a_batch_of_writes_is_one_statement_text_whatever_its_size(
    postgres_storage: SqlStorage,
) -> None:
    """History, audit, outbox and versioned case updates of a message take their rows as one
    JSON document: one statement per table whatever the number of rows, prepared once."""
    sent: list[str] = []

    def remember(*args: object) -> None:
        sent.append(str(args[2]))  # (connection, cursor, statement, ...)

    with postgres_storage.unit_of_work() as work:
        work.organisations.add(organisation("org-1"))
        work.commit()
    event.listen(postgres_storage.engine, "before_cursor_execute", remember)
    try:
        for size in (1, 7, 100):
            cases = [submitted_case(f"c-{size}-{n}") for n in range(size)]
            with postgres_storage.unit_of_work() as work:
                for made, _ in cases:
                    work.cases.add(made)
                work.history.append_many([submitted for _, submitted in cases])
                work.audit.append_many([audit_record(f"a-{size}-{n}") for n in range(size)])
                work.outbox.add_many(
                    [
                        OutboxMessage(
                            id=f"m-{submitted.event_id}",
                            event=submitted,
                            created_at=T0,
                            available_at=T0,
                        )
                        for _, submitted in cases
                    ]
                )
                work.commit()
            with postgres_storage.unit_of_work() as work:
                work.cases.update_many(
                    [
                        (evolve(made, subject="Renamed", version=made.version + 1), made.version)
                        for made, _ in cases
                    ]
                )
                work.commit()
    finally:
        event.remove(postgres_storage.engine, "before_cursor_execute", remember)
    for table in (
        "INSERT INTO case_events",
        "INSERT INTO audit_entries",
        "INSERT INTO outbox_messages",
        "UPDATE cases",
    ):
        texts = {text for text in sent if text.startswith(table)}
        assert len(texts) == 1, texts
    with postgres_storage.unit_of_work() as work:
        assert work.outbox.pending_count() == 108
        assert work.cases.get("c-100-99").subject == "Renamed"
        assert [e.event_id for e in work.history.for_case("c-7-3")] == ["evt-c-7-3"]
    assert postgres_storage.verify_audit_chain().entries_checked == 108
