"""Payment reminders: each step of the schedule once, only while something is due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from adapters.memory import SequentialIds
from portal_core.billing.service import IssueCreditNote
from portal_core.dispatch import EventDispatcher
from portal_core.errors import InvalidInput
from portal_core.payments.events import PaymentReminderDue
from portal_core.payments.reminders import ReminderSchedule, ReminderService
from tests.unit.payments.builders import PayWorld, make_pay_world, money, paid_event

DUE = date(2026, 12, 2)


@pytest.fixture
def world() -> PayWorld:
    return make_pay_world()


def steps_sent(world: PayWorld, days: list[date]) -> list[tuple[date, int]]:
    sent = []
    for day in days:
        sent += [(day, event.step_days) for event in world.reminders.run(day)]
    return sent


def every_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def test_the_default_schedule_reminds_before_on_and_after_the_due_date(world: PayWorld) -> None:
    world.issued_invoice()
    sent = steps_sent(world, every_day(date(2026, 11, 2), date(2027, 1, 31)))
    assert sent == [
        (date(2026, 11, 29), -3),
        (date(2026, 12, 2), 0),
        (date(2026, 12, 9), 7),
        (date(2026, 12, 16), 14),
    ]
    outbox = [
        m.event
        for m in world.billing.storage.state.outbox.values()
        if isinstance(m.event, PaymentReminderDue)
    ]
    assert [(e.step_days, e.balance_due, e.number, e.due_date) for e in outbox] == [
        (step, "540.00", "INV-2026-0001", DUE) for step in (-3, 0, 7, 14)
    ]


def test_running_twice_a_day_never_sends_a_step_twice(world: PayWorld) -> None:
    world.issued_invoice()
    assert len(world.reminders.run(DUE)) == 1
    before = world.snapshot()
    assert world.reminders.run(DUE) == []
    assert world.snapshot() == before


def test_reminders_stop_the_moment_the_invoice_is_paid(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    assert [e.step_days for e in world.reminders.run(DUE)] == [0]
    world.payments.handle_event(paid_event(invoice.id, money("540.00")))
    assert steps_sent(world, every_day(DUE, date(2027, 1, 31))) == []


def test_a_partly_paid_invoice_is_reminded_of_the_rest(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("500.00")))
    (event,) = world.reminders.run(DUE)
    assert event.balance_due == "40.00"


def test_a_worker_back_after_days_sends_only_the_current_step(world: PayWorld) -> None:
    world.issued_invoice()
    assert [e.step_days for e in world.reminders.run(date(2026, 12, 12))] == [7]
    later = steps_sent(world, every_day(date(2026, 12, 12), date(2027, 1, 31)))
    assert later == [(date(2026, 12, 16), 14)]


def test_steps_before_the_invoice_was_issued_never_apply(world: PayWorld) -> None:
    world.issued_invoice(payment_terms_days=1)  # issued 2 November, due 3 November
    sent = steps_sent(world, every_day(date(2026, 11, 2), date(2026, 11, 30)))
    assert sent == [(date(2026, 11, 3), 0), (date(2026, 11, 10), 7), (date(2026, 11, 17), 14)]


def test_drafts_and_credited_invoices_get_no_reminder(world: PayWorld) -> None:
    world.draft_invoice()
    voided = world.issued_invoice()
    world.billing.billing.issue_credit_note(
        world.billing.staff, IssueCreditNote(invoice_id=voided.id, reason="Void")
    )
    assert steps_sent(world, every_day(date(2026, 11, 2), date(2027, 1, 31))) == []


def test_an_organisation_can_have_its_own_schedule(world: PayWorld) -> None:
    world.issued_invoice()
    service = ReminderService(
        uow=world.billing.storage.unit_of_work,
        clock=world.billing.clock,
        ids=SequentialIds("r"),
        dispatcher=EventDispatcher(),
        schedules={"acme": ReminderSchedule((30, 1))},
    )
    sent = [
        (day, e.step_days)
        for day in every_day(date(2026, 11, 2), date(2027, 1, 31))
        for e in service.run(day)
    ]
    assert sent == [(date(2026, 12, 3), 1), (date(2027, 1, 1), 30)]


@pytest.mark.parametrize("offsets", [(), (400,), (True,)])
def test_a_schedule_needs_sensible_steps(offsets: tuple[int, ...]) -> None:
    with pytest.raises(InvalidInput):
        ReminderSchedule(offsets)
