"""Payment reminders: a schedule of steps around the due date, each sent at most once.

A schedule is a list of offsets in days from the due date, per client organisation (its
contract's payment terms decide the due date; the schedule decides the reminders), by default
3 days before, on the due date, and 7 and 14 days after. Each run (a daily worker) looks at every
issued invoice with something still due and, for each one, at the steps whose day has come:
- the newest step reached is sent (a `PaymentReminderDue` event through the outbox: the e-mail);
- earlier steps reached but not sent (the worker was down, the invoice was issued late) are
  marked as passed, never sent late: a client gets one reminder per run, the current one;
- steps dated before the invoice was issued never apply;
- a step is remembered in `processed_events` (source "reminder", id "<invoice>:<offset>") in the
  same transaction as its outbox row, so it is never sent twice, even by two workers at once;
- paid, credited or draft invoices get nothing: reminders stop the moment nothing is due.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from attrs import field, frozen

from portal_core.billing.invoice import Invoice
from portal_core.billing.periods import DEFAULT_FIRM_TIME_ZONE, firm_zone, local_date
from portal_core.dispatch import EventDispatcher, record_change
from portal_core.errors import InvalidInput
from portal_core.payments.events import PaymentReminderDue
from portal_core.ports import Clock, IdGenerator, UnitOfWorkFactory

log = logging.getLogger(__name__)

REMINDER_SOURCE = "reminder"
REMINDER_ACTOR = "system:reminders"
MAX_OFFSET_DAYS = 366


def _offsets(value: Iterable[int]) -> tuple[int, ...]:
    offsets = tuple(sorted(set(value)))
    if not offsets:
        raise InvalidInput("A reminder schedule has at least one step.")
    if any(isinstance(o, bool) or abs(o) > MAX_OFFSET_DAYS for o in offsets):
        raise InvalidInput(
            f"Reminder steps are whole days within {MAX_OFFSET_DAYS} of the due date."
        )
    return offsets


@frozen
class ReminderSchedule:
    """Days relative to the due date at which a reminder goes out: -3 is three days before."""

    offsets: tuple[int, ...] = field(default=(-3, 0, 7, 14), converter=_offsets)

    def steps_reached(self, invoice: Invoice, today: date) -> tuple[int, ...]:
        """The offsets whose day has come for the invoice, excluding days before its issue."""
        if invoice.due_date is None or invoice.issue_date is None:
            return ()
        return tuple(
            offset
            for offset in self.offsets
            if invoice.issue_date <= invoice.due_date + timedelta(days=offset) <= today
        )


def needs_reminding(invoice: Invoice) -> bool:
    """Issued, and something still due (not paid, not credited)."""
    return not invoice.is_draft and invoice.balance_due.amount > 0


class ReminderService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        dispatcher: EventDispatcher,
        schedules: Mapping[str, ReminderSchedule] | None = None,
        default: ReminderSchedule | None = None,
        time_zone: str = DEFAULT_FIRM_TIME_ZONE,
    ) -> None:
        """`schedules` by organisation id, for clients whose contract says otherwise."""
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._dispatcher = dispatcher
        self._schedules = dict(schedules or {})
        self._default = default or ReminderSchedule()
        self._zone = firm_zone(time_zone)

    def schedule_for(self, organisation_id: str) -> ReminderSchedule:
        return self._schedules.get(organisation_id, self._default)

    def run(self, today: date | None = None) -> list[PaymentReminderDue]:
        """Send the reminders due on `today` (the firm's today by default); returns them."""
        day = today or local_date(self._clock.now(), self._zone)
        now = self._clock.now()
        sent: list[PaymentReminderDue] = []
        with self._uow() as uow:
            invoices = uow.invoices.list(organisation_id=None, include_drafts=False)
            for invoice in invoices:
                if not needs_reminding(invoice):
                    continue
                reached = self.schedule_for(invoice.organisation_id).steps_reached(invoice, day)
                if not reached:
                    continue
                # Earlier steps first, so that a passed step is remembered before the current one.
                for offset in reached[:-1]:
                    uow.processed_events.record(REMINDER_SOURCE, f"{invoice.id}:{offset}", at=now)
                current = reached[-1]
                if not uow.processed_events.record(
                    REMINDER_SOURCE, f"{invoice.id}:{current}", at=now
                ):
                    continue
                assert invoice.number is not None
                assert invoice.due_date is not None
                event = PaymentReminderDue(
                    event_id=self._ids.new_id(),
                    occurred_at=now,
                    organisation_id=invoice.organisation_id,
                    actor_id=REMINDER_ACTOR,
                    invoice_id=invoice.id,
                    number=invoice.number,
                    step_days=current,
                    due_date=invoice.due_date,
                    balance_due=str(invoice.balance_due),
                    currency=invoice.currency,
                )
                record_change(
                    uow, event, ids=self._ids, subject_type="invoice", subject_id=invoice.id
                )
                sent.append(event)
            uow.commit()
        log.info("payment reminders for %s: %d sent", day.isoformat(), len(sent))
        self._dispatcher.dispatch(sent)
        return sent
