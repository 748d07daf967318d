"""Payments on every storage (memory, SQLite, PostgreSQL): events recorded once in the same
transaction as the payment, refusals leave no trace, refunds stored as negative payments, and
copies from concurrent senders on PostgreSQL have one effect."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from attrs import frozen

from adapters.memory import FixedClock, InMemoryFileStore, SequentialIds
from adapters.memory.payments import InMemoryPaymentGateway
from adapters.sql import SqlStorage
from portal_core.billing.contract import Grouping, HourlyTerms, TaxRule
from portal_core.billing.events import PaymentRecorded
from portal_core.billing.invoice import Invoice, InvoiceStatus
from portal_core.billing.money import Money
from portal_core.billing.service import BillingService, LogTime, SetContract
from portal_core.cases.model import CaseStatus
from portal_core.cases.service import CaseService, ChangeStatus, SubmitCase
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation, Role, User
from portal_core.payments.model import PaymentEvent, PaymentEventKind, PaymentRefused
from portal_core.payments.reminders import ReminderService
from portal_core.payments.service import PaymentOutcome, PaymentService
from portal_core.ports import UnitOfWorkFactory
from tests.contract.storage.conftest import (
    memory_storage,
    postgres_database_url,
    postgres_session_storage,
    postgres_storage,
    sqlite_storage,
    sqlite_template,
    storage,
    uow,
)

__all__ = [
    "memory_storage",
    "postgres_database_url",
    "postgres_session_storage",
    "postgres_storage",
    "sqlite_storage",
    "sqlite_template",
    "storage",
    "uow",
]

NOVEMBER_2ND = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EUR = "EUR"


@frozen
class Desk:
    uow: UnitOfWorkFactory
    payments: PaymentService
    reminders: ReminderService
    invoice: Invoice


def open_desk(uow: UnitOfWorkFactory) -> Desk:
    """Acme with a billing contact, a per-case contract and one issued invoice of 540.00."""
    clock = FixedClock(NOVEMBER_2ND)
    ids = SequentialIds()
    dispatcher = EventDispatcher()
    staff = User(
        id="sam",
        email="sam@example.com",
        name="Sam",
        organisation_id=None,
        roles=frozenset({Role.STAFF}),
        created_at=NOVEMBER_2ND,
    )
    admin = User(
        id="ada",
        email="ada@example.com",
        name="Ada",
        organisation_id=None,
        roles=frozenset({Role.ADMIN}),
        created_at=NOVEMBER_2ND,
    )
    with uow() as unit:
        unit.organisations.add(Organisation(id="acme", name="Acme Ltd", created_at=NOVEMBER_2ND))
        unit.users.add(staff)
        unit.users.add(admin)
        unit.commit()
    billing = BillingService(uow=uow, clock=clock, ids=ids, dispatcher=dispatcher)
    cases = CaseService(
        uow=uow, clock=clock, ids=ids, files=InMemoryFileStore(clock), dispatcher=dispatcher
    )
    billing.set_contract(
        admin.as_principal(),
        SetContract(
            organisation_id="acme",
            terms=HourlyTerms(),
            currency=EUR,
            rates={"Senior": Money("180.00", EUR).amount},
            tax=TaxRule(rate_percent=Money("20", EUR).amount),
            grouping=Grouping.PER_CASE,
        ),
    )
    case = cases.submit(
        staff.as_principal(),
        SubmitCase(subject="Annual accounts", description="", organisation_id="acme"),
    )
    billing.log_time(
        staff.as_principal(),
        LogTime(
            case_id=case.id,
            role="Senior",
            work_date=date(2026, 10, 6),
            minutes=150,
            description="Review",
        ),
    )
    cases.change_status(
        staff.as_principal(), ChangeStatus(case_id=case.id, status=CaseStatus.RESOLVED)
    )
    draft = billing.draft_for_resolved_case(staff.as_principal(), case.id)
    assert draft is not None
    invoice = billing.issue(staff.as_principal(), draft.id)
    payments = PaymentService(
        uow=uow, clock=clock, ids=ids, dispatcher=dispatcher, gateway=InMemoryPaymentGateway(clock)
    )
    reminders = ReminderService(uow=uow, clock=clock, ids=ids, dispatcher=dispatcher)
    return Desk(uow=uow, payments=payments, reminders=reminders, invoice=invoice)


def event(
    invoice_id: str | None,
    amount: str,
    *,
    event_id: str = "evt-1",
    reference: str = "pi_1",
    kind: PaymentEventKind = PaymentEventKind.SUCCEEDED,
) -> PaymentEvent:
    return PaymentEvent(
        source="stripe",
        event_id=event_id,
        kind=kind,
        invoice_id=invoice_id,
        amount=Money(amount, EUR),
        payment_reference=reference,
        occurred_at=NOVEMBER_2ND,
    )


def stored(desk: Desk) -> Invoice:
    with desk.uow() as unit:
        found = unit.invoices.get(desk.invoice.id)
    assert found is not None
    return found


def receipts(desk: Desk) -> int:
    with desk.uow() as unit:
        messages = unit.outbox.claim(limit=100, now=NOVEMBER_2ND, lease=timedelta(minutes=1))
    return sum(1 for m in messages if isinstance(m.event, PaymentRecorded))


def test_a_payment_event_is_recorded_once_with_one_receipt(uow: UnitOfWorkFactory) -> None:
    desk = open_desk(uow)
    paid = event(desk.invoice.id, "540.00")
    assert desk.payments.handle_event(paid) is PaymentOutcome.RECORDED
    assert desk.payments.handle_event(paid) is PaymentOutcome.DUPLICATE
    invoice = stored(desk)
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.amount_paid == Money("540.00", EUR)
    assert receipts(desk) == 1


def test_a_refused_event_is_not_remembered_as_processed(uow: UnitOfWorkFactory) -> None:
    desk = open_desk(uow)
    with pytest.raises(PaymentRefused):
        desk.payments.handle_event(event("no-such-invoice", "540.00"))
    # The same event id, now naming the invoice, is new: the refusal stored nothing.
    assert desk.payments.handle_event(event(desk.invoice.id, "540.00")) is PaymentOutcome.RECORDED


def test_a_refund_is_stored_as_a_negative_payment(uow: UnitOfWorkFactory) -> None:
    desk = open_desk(uow)
    desk.payments.handle_event(event(desk.invoice.id, "600.00"))
    refund = event(None, "60.00", event_id="evt-2", kind=PaymentEventKind.REFUNDED)
    assert desk.payments.handle_event(refund) is PaymentOutcome.REFUNDED
    invoice = stored(desk)
    assert [str(p.amount) for p in invoice.payments] == ["600.00", "-60.00"]
    assert invoice.overpaid == Money("0.00", EUR)
    assert invoice.status is InvoiceStatus.PAID


def test_a_reminder_step_is_sent_once(uow: UnitOfWorkFactory) -> None:
    desk = open_desk(uow)
    assert [e.step_days for e in desk.reminders.run(date(2026, 12, 2))] == [0]
    assert desk.reminders.run(date(2026, 12, 2)) == []


def test_copies_from_concurrent_senders_have_one_effect_on_postgres(
    postgres_storage: SqlStorage,
) -> None:
    desk = open_desk(postgres_storage.unit_of_work)
    paid = event(desk.invoice.id, "540.00")
    outcomes: list[PaymentOutcome] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        outcomes.append(desk.payments.handle_event(paid))

    senders = [threading.Thread(target=send) for _ in range(8)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert sorted(outcomes) == sorted([PaymentOutcome.RECORDED] + [PaymentOutcome.DUPLICATE] * 7)
    assert len(stored(desk).payments) == 1
    assert receipts(desk) == 1
