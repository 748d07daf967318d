"""Payment events: facts in the past tense, recorded with the change (audit and outbox).

A payment itself is billing's `PaymentRecorded` (whoever recorded it: a gateway, staff, a bank
transfer), and that event is the one the receipt e-mail is sent for, once per payment.
Amounts travel as strings ("540.00") with their currency, never as floats.
"""

from __future__ import annotations

from datetime import date

from attrs import frozen

from portal_core.events import DomainEvent


@frozen(kw_only=True)
class CheckoutStarted(DomainEvent):
    """A pay link was handed out (audit only: nothing to deliver)."""

    kind = "payment.checkout_started"

    invoice_id: str
    session_id: str
    amount: str
    currency: str


@frozen(kw_only=True)
class PaymentRefunded(DomainEvent):
    """Money paid back to the client: a negative payment on the invoice."""

    kind = "invoice.payment_refunded"

    invoice_id: str
    payment_id: str
    reference: str
    amount: str
    """Positive: how much was paid back."""
    currency: str
    credit_note_id: str | None
    """The newest credit note of the invoice, when the refunded credit came from one."""
    status: str


@frozen(kw_only=True)
class PaymentReminderDue(DomainEvent):
    """One step of the reminder schedule reached an unpaid invoice: e-mail its billing contacts."""

    kind = "invoice.payment_reminder_due"

    invoice_id: str
    number: str
    step_days: int
    """Days relative to the due date: -3 is three days before it, 7 a week after."""
    due_date: date
    balance_due: str
    currency: str
