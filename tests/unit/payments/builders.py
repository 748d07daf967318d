"""A billing world (tests.unit.billing.builders) with payments wired on the in-memory fakes, and
issued invoices made through billing's own use cases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from attrs import frozen

from adapters.memory import SequentialIds
from adapters.memory.payments import InMemoryPaymentGateway
from portal_core.billing.contract import Grouping
from portal_core.billing.invoice import Invoice
from portal_core.billing.money import Money
from portal_core.billing.service import LogTime
from portal_core.dispatch import EventDispatcher
from portal_core.events import DomainEvent
from portal_core.payments.model import PaymentEvent, PaymentEventKind
from portal_core.payments.reminders import ReminderService
from portal_core.payments.service import PaymentService
from tests.unit.billing.builders import World, make_world

NOVEMBER_2ND = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def money(amount: str, currency: str = "EUR") -> Money:
    return Money(amount, currency)


@frozen
class PayWorld:
    billing: World
    gateway: InMemoryPaymentGateway
    payments: PaymentService
    reminders: ReminderService
    published: list[DomainEvent]
    ids: SequentialIds
    dispatcher: EventDispatcher

    def draft_invoice(
        self, minutes: int = 150, organisation_id: str = "acme", **contract: Any
    ) -> Invoice:
        """A case's draft invoice of 2 November under a per-case hourly contract (Senior
        180.00/h, VAT 20 %: 150 minutes make 540.00)."""
        w = self.billing
        w.clock.set(NOVEMBER_2ND)
        known = any(c.organisation_id == organisation_id for c in w.storage.state.contracts)
        if contract or not known:
            w.set_contract(organisation_id, grouping=Grouping.PER_CASE, **contract)
        case = w.open_case(organisation_id)
        w.billing.log_time(
            w.staff,
            LogTime(
                case_id=case.id,
                role="Senior",
                work_date=date(2026, 10, 6),
                minutes=minutes,
                description="Review",
            ),
        )
        w.resolve(case)
        draft = w.billing.draft_for_resolved_case(w.staff, case.id)
        assert draft is not None
        return draft

    def issued_invoice(
        self, minutes: int = 150, organisation_id: str = "acme", **contract: Any
    ) -> Invoice:
        """`draft_invoice`, issued on 2 November: due on 2 December (30 days' terms)."""
        draft = self.draft_invoice(minutes, organisation_id, **contract)
        return self.billing.billing.issue(self.billing.staff, draft.id)

    def invoice(self, invoice_id: str) -> Invoice:
        return self.billing.storage.state.invoices[invoice_id]

    def snapshot(self) -> object:
        return self.billing.snapshot()


def make_pay_world() -> PayWorld:
    billing = make_world()
    dispatcher = EventDispatcher()
    published: list[DomainEvent] = []
    dispatcher.subscribe(DomainEvent, published.append)
    ids = SequentialIds("pay")
    gateway = InMemoryPaymentGateway(billing.clock)
    payments = PaymentService(
        uow=billing.storage.unit_of_work,
        clock=billing.clock,
        ids=ids,
        dispatcher=dispatcher,
        gateway=gateway,
    )
    reminders = ReminderService(
        uow=billing.storage.unit_of_work, clock=billing.clock, ids=ids, dispatcher=dispatcher
    )
    return PayWorld(
        billing=billing,
        gateway=gateway,
        payments=payments,
        reminders=reminders,
        published=published,
        ids=ids,
        dispatcher=dispatcher,
    )


def paid_event(
    invoice_id: str | None,
    amount: Money,
    *,
    event_id: str = "evt-1",
    reference: str = "pi_1",
    kind: PaymentEventKind = PaymentEventKind.SUCCEEDED,
    source: str = "stripe",
) -> PaymentEvent:
    return PaymentEvent(
        source=source,
        event_id=event_id,
        kind=kind,
        invoice_id=invoice_id,
        amount=amount,
        payment_reference=reference,
        occurred_at=NOVEMBER_2ND,
    )


def refunded_event(
    refunded_so_far: Money, *, event_id: str, reference: str = "pi_1"
) -> PaymentEvent:
    return paid_event(
        None,
        refunded_so_far,
        event_id=event_id,
        reference=reference,
        kind=PaymentEventKind.REFUNDED,
    )
