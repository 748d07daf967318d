"""Receipts, refund confirmations and payment reminders, e-mailed by the outbox relay.

Each is sent to the organisation's billing contacts (its client admins when it has none),
active users only, with a dedupe key per event and person, so the relay's at-least-once
delivery never mails anyone twice. A receipt goes out for every `PaymentRecorded`, whoever
recorded the payment (gateway, staff, bank transfer): exactly one per payment.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from portal_core.billing.events import PaymentRecorded
from portal_core.billing.money import Money
from portal_core.delivery import DeliveryHandler
from portal_core.events import DomainEvent
from portal_core.organisations.model import Role, User
from portal_core.payments.events import PaymentRefunded, PaymentReminderDue
from portal_core.ports import Notification, Notifier, UnitOfWorkFactory

log = logging.getLogger(__name__)


def _amount(amount: str, currency: str) -> str:
    return Money(amount, currency).format()


def receipt_text(event: PaymentRecorded, number: str) -> tuple[str, str]:
    subject = f"Payment received for invoice {number}"
    body = f"We received {_amount(event.amount, event.currency)} for invoice {number}. Thank you."
    if Money(event.overpaid, event.currency).amount > 0:
        body += (
            f" This is {_amount(event.overpaid, event.currency)} more than was due; "
            "we hold it as a credit for you and will refund or apply it."
        )
    elif event.status == "partially_paid":
        body += " Part of the invoice is still due."
    return subject, body


def refund_text(event: PaymentRefunded, number: str) -> tuple[str, str]:
    return (
        f"Refund for invoice {number}",
        f"We refunded {_amount(event.amount, event.currency)} for invoice {number}.",
    )


def reminder_text(event: PaymentReminderDue) -> tuple[str, str]:
    owed = _amount(event.balance_due, event.currency)
    number = event.number
    when = event.due_date.isoformat()
    if event.step_days < 0:
        subject = f"Invoice {number} is due on {when}"
        body = f"A friendly reminder: {owed} on invoice {number} is due on {when}."
    elif event.step_days == 0:
        subject = f"Invoice {number} is due today"
        body = f"{owed} on invoice {number} is due today ({when})."
    else:
        subject = f"Invoice {number} is overdue"
        body = f"{owed} on invoice {number} was due on {when}, {event.step_days} days ago."
    return subject, body + " Pay online from the invoice page in the portal."


def recipients(users: Sequence[User]) -> list[User]:
    active = [u for u in users if u.active]
    contacts = [u for u in active if Role.BILLING_CONTACT in u.roles]
    return contacts or [u for u in active if Role.CLIENT_ADMIN in u.roles]


class PaymentNotices:
    def __init__(self, *, uow: UnitOfWorkFactory, notifier: Notifier) -> None:
        self._uow = uow
        self._notifier = notifier

    def handlers(self) -> Mapping[type[DomainEvent], DeliveryHandler]:
        """For `OutboxRelay(handlers=...)`, merged with the other handlers of the same events."""
        return {
            PaymentRecorded: self.send_receipt,
            PaymentRefunded: self.send_refund,
            PaymentReminderDue: self.send_reminder,
        }

    def send_receipt(self, event: PaymentRecorded) -> None:
        number = self._number(event.invoice_id)
        if number is not None:
            self._send(event, "payment_receipt", *receipt_text(event, number))

    def send_refund(self, event: PaymentRefunded) -> None:
        number = self._number(event.invoice_id)
        if number is not None:
            self._send(event, "payment_refund", *refund_text(event, number))

    def send_reminder(self, event: PaymentReminderDue) -> None:
        with self._uow(read_only=True) as uow:
            invoice = uow.invoices.get(event.invoice_id)
        # Paid between the run and the delivery: the reminder is dropped, not sent late.
        if invoice is None or invoice.is_draft or invoice.balance_due.amount <= 0:
            log.info("reminder %s dropped: invoice %s settled", event.event_id, event.invoice_id)
            return
        self._send(event, "payment_reminder", *reminder_text(event))

    def _number(self, invoice_id: str) -> str | None:
        with self._uow(read_only=True) as uow:
            invoice = uow.invoices.get(invoice_id)
        return None if invoice is None else invoice.number

    def _send(self, event: DomainEvent, kind: str, subject: str, body: str) -> None:
        if event.organisation_id is None:
            return
        with self._uow() as uow:
            people = recipients(uow.users.for_organisation(event.organisation_id))
        for person in people:
            self._notifier.send(
                Notification(
                    to=person.email,
                    subject=subject,
                    body=body,
                    kind=kind,
                    dedupe_key=f"{kind}:{event.event_id}:{person.id}",
                )
            )
