"""Payment use cases: pay links, gateway notifications, bank transfers and refunds by staff.

Every payment, whoever reports it, goes through one rule set, inside one unit of work with its
audit entry and outbox row (billing's `PaymentRecorded`: the receipt e-mail, once per payment):
- an issued invoice with something still due takes the payment; less than due leaves it
  partially paid, more makes it paid with the excess kept as the client's credit (`overpaid`);
- a payment for an unknown invoice, a draft, an invoice with nothing left due (paid or
  credited), or in another currency is refused with `PaymentRefused` and a stable code, and
  nothing at all is recorded (not even the event as processed), with a log line;
- a gateway event is recorded in `processed_events` (source, event id) in the same transaction,
  so a retried or duplicated notification is a no-op success (DUPLICATE); the payment's
  reference guards a second time, for the same payment reported by two different events;
- a refund is a negative payment, never more than the credit the client holds on the invoice
  (paid beyond it, or credited by a credit note after paying): otherwise `RefundNotCovered`.
  Gateways report refunds as the total refunded so far on a payment, so a late or repeated
  notification of an earlier, smaller total changes nothing.
"""

from __future__ import annotations

import enum
import logging
from datetime import date

from portal_core import access
from portal_core.billing import access as billing_access
from portal_core.billing.events import PaymentRecorded
from portal_core.billing.invoice import Invoice, Payment
from portal_core.billing.money import Money, total
from portal_core.billing.periods import DEFAULT_FIRM_TIME_ZONE, firm_zone, local_date
from portal_core.dispatch import EventDispatcher, event_header, record_change
from portal_core.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from portal_core.events import DomainEvent, EventHeader
from portal_core.organisations.model import Principal
from portal_core.payments.events import CheckoutStarted, PaymentRefunded
from portal_core.payments.model import (
    CURRENCY_MISMATCH,
    INVOICE_ALREADY_PAID,
    INVOICE_NOT_PAYABLE,
    UNKNOWN_INVOICE,
    Checkout,
    CheckoutUrls,
    MalformedEvent,
    PaymentEvent,
    PaymentEventKind,
    PaymentRefused,
    RefundNotCovered,
    to_minor_units,
)
from portal_core.payments.ports import PaymentGateway
from portal_core.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


class PaymentOutcome(enum.StrEnum):
    RECORDED = "recorded"
    """A payment was added to the invoice."""
    REFUNDED = "refunded"
    """A refund was added to the invoice."""
    DUPLICATE = "duplicate"
    """Handled before (the same event, or the same payment under another event): no change."""
    IGNORED = "ignored"
    """Nothing to record (a failed attempt, an event type the portal does not act on)."""


def _refund_reference(payment_reference: str, refunded_so_far: Money) -> str:
    """One reference per level of "refunded so far", so each level is recorded once."""
    return f"{payment_reference}:refund:{to_minor_units(refunded_so_far)}"


class PaymentService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        dispatcher: EventDispatcher,
        gateway: PaymentGateway,
        time_zone: str = DEFAULT_FIRM_TIME_ZONE,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._dispatcher = dispatcher
        self._gateway = gateway
        self._zone = firm_zone(time_zone)

    # the pay link ---------------------------------------------------------------------------

    def start_checkout(self, principal: Principal, invoice_id: str, urls: CheckoutUrls) -> Checkout:
        """A pay link for what is still due on the invoice, in its currency. For the invoice's
        billing contacts and client admins, and staff; never for a draft or a settled invoice.
        Asking again before anything changed gives the same checkout (same idempotency key)."""
        with self._uow(read_only=True) as uow:
            invoice = billing_access.require_invoice(principal, uow.invoices.get(invoice_id))
        if invoice.is_draft or invoice.number is None:
            raise InvalidTransition("A draft cannot be paid; issue it first.")
        due = invoice.balance_due
        if due.amount <= 0:
            raise InvalidTransition(f"Invoice {invoice.number} has nothing left to pay.")
        checkout = self._gateway.create_checkout(
            invoice_id=invoice.id,
            organisation_id=invoice.organisation_id,
            amount=due,
            description=f"Invoice {invoice.number}",
            success_url=urls.success_url,
            cancel_url=urls.cancel_url,
            # The invoice's version changes with every payment or credit: a new amount, a new key.
            idempotency_key=f"invoice-{invoice.id}-v{invoice.version}-{to_minor_units(due)}",
        )
        event = CheckoutStarted(
            **self._base(principal.user_id, invoice.organisation_id),
            invoice_id=invoice.id,
            session_id=checkout.session_id,
            amount=str(due),
            currency=due.currency,
        )
        with self._uow() as uow:
            self._record(uow, event, invoice.id, outbox=False)
            uow.commit()
        self._dispatcher.dispatch([event])
        return checkout

    # notifications from the gateway ---------------------------------------------------------

    def handle_event(self, event: PaymentEvent) -> PaymentOutcome:
        """Apply a verified gateway notification once (see the module docstring)."""
        if event.kind in (PaymentEventKind.FAILED, PaymentEventKind.IGNORED):
            log.info("payment event %s from %s: %s", event.event_id, event.source, event.kind)
            return PaymentOutcome.IGNORED
        if event.amount is None:
            raise MalformedEvent("A payment notification names its amount.")
        actor = f"system:{event.source}"
        events: list[DomainEvent] = []
        try:
            with self._uow() as uow:
                if not uow.processed_events.record(
                    event.source, event.event_id, at=self._clock.now()
                ):
                    return PaymentOutcome.DUPLICATE
                if event.kind is PaymentEventKind.SUCCEEDED:
                    invoice = self._invoice_for(uow, event.invoice_id)
                    outcome = self._pay(
                        uow,
                        invoice,
                        event.amount,
                        reference=event.payment_reference or event.event_id,
                        received_on=local_date(event.occurred_at, self._zone),
                        actor=actor,
                        events=events,
                    )
                else:
                    if event.payment_reference is None:
                        raise MalformedEvent("A refund notification names the payment refunded.")
                    invoice = self._invoice_for(
                        uow, event.invoice_id, payment_reference=event.payment_reference
                    )
                    outcome = self._refund_up_to(
                        uow,
                        invoice,
                        event.amount,
                        payment_reference=event.payment_reference,
                        actor=actor,
                        events=events,
                    )
                uow.commit()
        except (PaymentRefused, RefundNotCovered, Conflict) as refusal:
            log.warning(
                "payment event %s from %s for invoice %s refused (%s): %s",
                event.event_id,
                event.source,
                event.invoice_id,
                refusal.code,
                refusal.message,
            )
            raise
        self._dispatcher.dispatch(events)
        return outcome

    # staff ----------------------------------------------------------------------------------

    def record_manual_payment(
        self,
        principal: Principal,
        invoice_id: str,
        *,
        amount: Money,
        reference: str,
        received_on: date,
    ) -> Invoice:
        """A bank transfer (or cheque, or cash) staff saw arrive, by the bank's reference.
        The same reference and amount again changes nothing; the refusals are the gateway's."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff record payments."
        )
        events: list[DomainEvent] = []
        with self._uow() as uow:
            invoice = billing_access.require_invoice(principal, uow.invoices.get(invoice_id))
            self._pay(
                uow,
                invoice,
                amount,
                reference=reference,
                received_on=received_on,
                actor=principal.user_id,
                events=events,
            )
            uow.commit()
        self._dispatcher.dispatch(events)
        return self._stored(invoice_id)

    def record_refund(
        self,
        principal: Principal,
        invoice_id: str,
        *,
        amount: Money,
        reference: str,
        refunded_on: date,
    ) -> Invoice:
        """Money staff paid back to the client (a bank transfer out), at most the credit the
        client holds on the invoice: credit the invoice with a credit note first if need be."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff record refunds."
        )
        if amount.amount <= 0:
            raise InvalidInput("A refund is a positive amount paid back.")
        events: list[DomainEvent] = []
        with self._uow() as uow:
            invoice = billing_access.require_invoice(principal, uow.invoices.get(invoice_id))
            seen = next((p for p in invoice.payments if p.reference == reference.strip()), None)
            if seen is not None:
                if seen.amount != -amount:
                    raise Conflict(f"Refund {reference} was recorded with {-seen.amount}.")
                return invoice
            self._refund(
                uow,
                invoice,
                amount,
                reference=reference.strip(),
                refunded_on=refunded_on,
                actor=principal.user_id,
                events=events,
            )
            uow.commit()
        self._dispatcher.dispatch(events)
        return self._stored(invoice_id)

    # the rules, inside the caller's unit of work --------------------------------------------

    def _invoice_for(
        self, uow: UnitOfWork, invoice_id: str | None, *, payment_reference: str | None = None
    ) -> Invoice:
        invoice = uow.invoices.get(invoice_id) if invoice_id else None
        if invoice is None and invoice_id is None and payment_reference is not None:
            # Refund notifications name the payment, not the invoice: find who holds it.
            invoice = next(
                (
                    i
                    for i in uow.invoices.list(organisation_id=None, include_drafts=False)
                    if any(p.reference == payment_reference for p in i.payments)
                ),
                None,
            )
        if invoice is None:
            raise PaymentRefused(UNKNOWN_INVOICE, "No invoice matches this payment.")
        return invoice

    def _pay(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        amount: Money,
        *,
        reference: str,
        received_on: date,
        actor: str,
        events: list[DomainEvent],
    ) -> PaymentOutcome:
        reference = reference.strip()
        if invoice.is_draft:
            raise PaymentRefused(INVOICE_NOT_PAYABLE, "A draft invoice cannot be paid.")
        if amount.currency != invoice.currency:
            raise PaymentRefused(
                CURRENCY_MISMATCH,
                f"Invoice {invoice.number} is payable in {invoice.currency}, not {amount.currency}.",
            )
        seen = next((p for p in invoice.payments if p.reference == reference), None)
        if seen is not None:
            if seen.amount != amount:
                raise Conflict(f"Payment {reference} was recorded with {seen.amount}.")
            return PaymentOutcome.DUPLICATE
        if invoice.balance_due.amount <= 0:
            raise PaymentRefused(
                INVOICE_ALREADY_PAID,
                f"Invoice {invoice.number} has nothing left to pay ({invoice.status.value}).",
            )
        payment = Payment(
            id=self._ids.new_id(),
            amount=amount,
            received_on=received_on,
            reference=reference,
            recorded_at=self._clock.now(),
        )
        before = invoice.version
        invoice = invoice.with_payment(payment)
        uow.invoices.update(invoice, expected_version=before)
        event = PaymentRecorded(
            **self._base(actor, invoice.organisation_id),
            invoice_id=invoice.id,
            payment_id=payment.id,
            reference=payment.reference,
            amount=str(payment.amount),
            currency=invoice.currency,
            status=invoice.status.value,
            overpaid=str(invoice.overpaid),
        )
        self._record(uow, event, invoice.id)
        events.append(event)
        return PaymentOutcome.RECORDED

    def _refund_up_to(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        refunded_so_far: Money,
        *,
        payment_reference: str,
        actor: str,
        events: list[DomainEvent],
    ) -> PaymentOutcome:
        if refunded_so_far.currency != invoice.currency:
            raise PaymentRefused(
                CURRENCY_MISMATCH,
                f"Invoice {invoice.number} is in {invoice.currency}, "
                f"not {refunded_so_far.currency}.",
            )
        prefix = f"{payment_reference}:refund:"
        recorded = -total(
            [p.amount for p in invoice.payments if p.reference.startswith(prefix)],
            invoice.currency,
        )
        if refunded_so_far <= recorded:
            return PaymentOutcome.DUPLICATE  # this total, or a larger one, is recorded already
        self._refund(
            uow,
            invoice,
            refunded_so_far - recorded,
            reference=_refund_reference(payment_reference, refunded_so_far),
            refunded_on=local_date(self._clock.now(), self._zone),
            actor=actor,
            events=events,
        )
        return PaymentOutcome.REFUNDED

    def _refund(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        amount: Money,
        *,
        reference: str,
        refunded_on: date,
        actor: str,
        events: list[DomainEvent],
    ) -> None:
        refund = Payment(
            id=self._ids.new_id(),
            amount=-amount,
            received_on=refunded_on,
            reference=reference,
            recorded_at=self._clock.now(),
        )
        if not invoice.is_draft and amount > invoice.overpaid:
            raise RefundNotCovered(
                f"Invoice {invoice.number} holds {invoice.overpaid} of credit for the client; "
                f"a refund of {amount} needs a credit note first."
            )
        before = invoice.version
        invoice = invoice.with_refund(refund)
        uow.invoices.update(invoice, expected_version=before)
        notes = uow.credit_notes.for_invoice(invoice.id)
        newest = max(notes, key=lambda n: (n.issued_at, n.number)) if notes else None
        event = PaymentRefunded(
            **self._base(actor, invoice.organisation_id),
            invoice_id=invoice.id,
            payment_id=refund.id,
            reference=refund.reference,
            amount=str(amount),
            currency=invoice.currency,
            credit_note_id=newest.id if newest is not None else None,
            status=invoice.status.value,
        )
        self._record(
            uow,
            event,
            invoice.id,
            details={"credit_note_id": newest.id} if newest is not None else None,
        )
        events.append(event)

    # helpers --------------------------------------------------------------------------------

    def _stored(self, invoice_id: str) -> Invoice:
        with self._uow(read_only=True) as uow:
            invoice = uow.invoices.get(invoice_id)
        if invoice is None:
            raise NotFound("No such invoice.")
        return invoice

    def _base(self, actor_id: str, organisation_id: str | None) -> EventHeader:
        return event_header(
            self._ids, self._clock, actor_id=actor_id, organisation_id=organisation_id
        )

    def _record(
        self,
        uow: UnitOfWork,
        event: DomainEvent,
        invoice_id: str,
        *,
        outbox: bool = True,
        details: dict[str, str] | None = None,
    ) -> None:
        record_change(
            uow,
            event,
            ids=self._ids,
            subject_type="invoice",
            subject_id=invoice_id,
            details=details,
            outbox=outbox,
        )
