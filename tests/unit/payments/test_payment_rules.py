"""Payment rules through the in-memory fakes: pay links, gateway events, bank transfers, refunds."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from attrs import evolve

from portal_core.billing.credit_notes import CreditLine
from portal_core.billing.events import PaymentRecorded
from portal_core.billing.invoice import InvoiceStatus
from portal_core.billing.money import CurrencyMismatch
from portal_core.billing.service import IssueCreditNote
from portal_core.errors import Conflict, InvalidTransition, NotFound, PermissionDenied
from portal_core.payments.events import CheckoutStarted, PaymentRefunded
from portal_core.payments.model import (
    CURRENCY_MISMATCH,
    INVOICE_ALREADY_PAID,
    INVOICE_NOT_PAYABLE,
    UNKNOWN_INVOICE,
    CheckoutUrls,
    MalformedEvent,
    PaymentEventKind,
    PaymentRefused,
    RefundNotCovered,
)
from portal_core.payments.service import PaymentOutcome
from tests.unit.payments.builders import (
    PayWorld,
    make_pay_world,
    money,
    paid_event,
    refunded_event,
)

URLS = CheckoutUrls(success_url="https://portal.example/paid", cancel_url="https://portal.example")


@pytest.fixture
def world() -> PayWorld:
    return make_pay_world()


def outbox_kinds(world: PayWorld) -> list[str]:
    return [m.event.kind for m in world.billing.storage.state.outbox.values()]


# pay links


def test_a_billing_contact_gets_a_pay_link_for_what_is_still_due(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    checkout = world.payments.start_checkout(world.billing.acme_billing, invoice.id, URLS)
    asked = next(iter(world.gateway.checkouts.values()))
    assert asked.amount == money("540.00")
    assert asked.invoice_id == invoice.id
    assert asked.description == "Invoice INV-2026-0001"
    assert checkout.session_id == asked.checkout.session_id
    assert any(isinstance(e, CheckoutStarted) for e in world.published)


def test_the_pay_link_of_a_partly_paid_invoice_is_for_the_rest(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("40.00")))
    world.payments.start_checkout(world.billing.acme_billing, invoice.id, URLS)
    assert [c.amount for c in world.gateway.checkouts.values()] == [money("500.00")]


def test_asking_twice_for_a_pay_link_gives_the_same_checkout(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    first = world.payments.start_checkout(world.billing.acme_billing, invoice.id, URLS)
    again = world.payments.start_checkout(world.billing.staff, invoice.id, URLS)
    assert again == first
    assert len(world.gateway.checkouts) == 1


def test_viewers_and_other_organisations_get_no_pay_link(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    for outsider in (world.billing.acme_viewer, world.billing.globex_billing):
        with pytest.raises(NotFound):
            world.payments.start_checkout(outsider, invoice.id, URLS)
    assert world.gateway.checkouts == {}


def test_there_is_no_pay_link_for_a_settled_invoice(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("540.00")))
    with pytest.raises(InvalidTransition):
        world.payments.start_checkout(world.billing.acme_billing, invoice.id, URLS)
    assert world.gateway.checkouts == {}


# gateway events


def test_a_verified_payment_settles_the_invoice_with_one_receipt(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    outcome = world.payments.handle_event(paid_event(invoice.id, money("540.00")))
    assert outcome is PaymentOutcome.RECORDED
    paid = world.invoice(invoice.id)
    assert paid.status is InvoiceStatus.PAID
    assert [p.reference for p in paid.payments] == ["pi_1"]
    assert paid.payments[0].received_on == date(2026, 11, 2)
    assert outbox_kinds(world).count(PaymentRecorded.kind) == 1


def test_a_partial_payment_leaves_the_invoice_partially_paid(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("200.00")))
    paid = world.invoice(invoice.id)
    assert paid.status is InvoiceStatus.PARTIALLY_PAID
    assert paid.balance_due == money("340.00")


def test_an_overpayment_is_kept_as_the_clients_credit(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("500.00"), event_id="e1"))
    world.payments.handle_event(
        paid_event(invoice.id, money("100.00"), event_id="e2", reference="pi_2")
    )
    paid = world.invoice(invoice.id)
    assert paid.status is InvoiceStatus.PAID
    assert paid.overpaid == money("60.00")
    receipts = [e for e in world.published if isinstance(e, PaymentRecorded)]
    assert [r.overpaid for r in receipts] == ["0.00", "60.00"]


def test_a_repeated_event_is_a_success_that_records_nothing_more(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    event = paid_event(invoice.id, money("200.00"))
    assert world.payments.handle_event(event) is PaymentOutcome.RECORDED
    before = world.snapshot()
    assert world.payments.handle_event(event) is PaymentOutcome.DUPLICATE
    assert world.snapshot() == before


def test_the_same_payment_reported_by_two_events_is_recorded_once(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("200.00"), event_id="e1"))
    outcome = world.payments.handle_event(paid_event(invoice.id, money("200.00"), event_id="e2"))
    assert outcome is PaymentOutcome.DUPLICATE
    assert world.invoice(invoice.id).amount_paid == money("200.00")
    assert outbox_kinds(world).count(PaymentRecorded.kind) == 1


def test_the_same_payment_reference_with_another_amount_is_refused(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("200.00"), event_id="e1"))
    before = world.snapshot()
    with pytest.raises(Conflict):
        world.payments.handle_event(paid_event(invoice.id, money("250.00"), event_id="e2"))
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown", UNKNOWN_INVOICE),
        ("paid", INVOICE_ALREADY_PAID),
        ("credited", INVOICE_ALREADY_PAID),
        ("dollars", CURRENCY_MISMATCH),
        ("draft", INVOICE_NOT_PAYABLE),
    ],
)
def test_a_payment_that_cannot_be_taken_is_refused_logged_and_not_recorded(
    world: PayWorld, caplog: pytest.LogCaptureFixture, case: str, code: str
) -> None:
    invoice = world.issued_invoice()
    invoice_id = invoice.id
    amount = money("540.00")
    if case == "unknown":
        invoice_id = "no-such-invoice"
    elif case == "paid":
        world.payments.handle_event(paid_event(invoice.id, amount, event_id="e0", reference="p0"))
    elif case == "credited":
        world.billing.billing.issue_credit_note(
            world.billing.staff, IssueCreditNote(invoice_id=invoice.id, reason="Void")
        )
    elif case == "dollars":
        amount = money("540.00", "USD")
    elif case == "draft":
        invoice_id = world.draft_invoice().id
    before = world.snapshot()
    with caplog.at_level(logging.WARNING), pytest.raises(PaymentRefused) as refused:
        world.payments.handle_event(paid_event(invoice_id, amount))
    assert refused.value.code == code
    assert world.snapshot() == before
    assert any(code in record.getMessage() for record in caplog.records)


def test_a_failed_attempt_is_acknowledged_and_changes_nothing(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    before = world.snapshot()
    event = paid_event(invoice.id, money("540.00"), kind=PaymentEventKind.FAILED)
    assert world.payments.handle_event(event) is PaymentOutcome.IGNORED
    assert world.snapshot() == before


def test_a_payment_event_without_an_amount_is_malformed(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    event = paid_event(invoice.id, money("1.00"))
    with pytest.raises(MalformedEvent):
        world.payments.handle_event(evolve(event, amount=None))


# refunds


def test_a_refund_pays_back_an_overpayment(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("600.00")))
    outcome = world.payments.handle_event(refunded_event(money("60.00"), event_id="r1"))
    assert outcome is PaymentOutcome.REFUNDED
    refunded = world.invoice(invoice.id)
    assert refunded.overpaid == money("0.00")
    assert refunded.amount_paid == money("540.00")
    assert refunded.status is InvoiceStatus.PAID
    assert refunded.payments[-1].amount == money("-60.00")


def test_a_refund_beyond_the_clients_credit_waits_for_a_credit_note(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("540.00")))
    refund = refunded_event(money("540.00"), event_id="r1")
    before = world.snapshot()
    with pytest.raises(RefundNotCovered):
        world.payments.handle_event(refund)
    assert world.snapshot() == before
    note = world.billing.billing.issue_credit_note(
        world.billing.staff, IssueCreditNote(invoice_id=invoice.id, reason="Void")
    )
    assert world.payments.handle_event(refund) is PaymentOutcome.REFUNDED  # the gateway's retry
    voided = world.invoice(invoice.id)
    assert voided.status is InvoiceStatus.CREDITED
    assert voided.amount_paid == money("0.00")
    events = [e for e in world.published if isinstance(e, PaymentRefunded)]
    assert [(e.amount, e.credit_note_id) for e in events] == [("540.00", note.id)]
    audit = world.billing.storage.state.audit[-1]
    assert audit.record.details == {"credit_note_id": note.id}


def test_refund_totals_out_of_order_refund_the_largest_total_once(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("540.00")))
    world.billing.billing.issue_credit_note(
        world.billing.staff,
        IssueCreditNote(
            invoice_id=invoice.id,
            reason="Discount",
            lines=(CreditLine(line_number=1, amount=money("250.00")),),
        ),
    )
    second = world.payments.handle_event(refunded_event(money("300.00"), event_id="r2"))
    first = world.payments.handle_event(refunded_event(money("100.00"), event_id="r1"))
    assert (second, first) == (PaymentOutcome.REFUNDED, PaymentOutcome.DUPLICATE)
    assert world.invoice(invoice.id).amount_paid == money("240.00")


def test_a_refund_for_a_payment_nobody_holds_is_refused(world: PayWorld) -> None:
    world.issued_invoice()
    with pytest.raises(PaymentRefused) as refused:
        world.payments.handle_event(refunded_event(money("10.00"), event_id="r1"))
    assert refused.value.code == UNKNOWN_INVOICE


# staff


def test_staff_record_a_bank_transfer_once_by_its_reference(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    for _ in range(2):
        paid = world.payments.record_manual_payment(
            world.billing.staff,
            invoice.id,
            amount=money("540.00"),
            reference="BANK-2026-11-03-17",
            received_on=date(2026, 11, 3),
        )
    assert paid.status is InvoiceStatus.PAID
    assert len(paid.payments) == 1
    assert outbox_kinds(world).count(PaymentRecorded.kind) == 1


def test_clients_cannot_record_payments_or_refunds(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    before = world.snapshot()
    with pytest.raises(PermissionDenied):
        world.payments.record_manual_payment(
            world.billing.acme_billing,
            invoice.id,
            amount=money("540.00"),
            reference="x",
            received_on=date(2026, 11, 3),
        )
    with pytest.raises(PermissionDenied):
        world.payments.record_refund(
            world.billing.acme_billing,
            invoice.id,
            amount=money("1.00"),
            reference="x",
            refunded_on=date(2026, 11, 3),
        )
    assert world.snapshot() == before


def test_a_bank_transfer_in_another_currency_is_refused(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    with pytest.raises(PaymentRefused) as refused:
        world.payments.record_manual_payment(
            world.billing.staff,
            invoice.id,
            amount=money("540.00", "GBP"),
            reference="x",
            received_on=date(2026, 11, 3),
        )
    assert refused.value.code == CURRENCY_MISMATCH


def test_staff_refund_by_hand_what_the_client_overpaid(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.record_manual_payment(
        world.billing.staff,
        invoice.id,
        amount=money("600.00"),
        reference="in-1",
        received_on=date(2026, 11, 3),
    )
    with pytest.raises(RefundNotCovered):
        world.payments.record_refund(
            world.billing.staff,
            invoice.id,
            amount=money("60.01"),
            reference="out-1",
            refunded_on=date(2026, 11, 4),
        )
    refunded = world.payments.record_refund(
        world.billing.staff,
        invoice.id,
        amount=money("60.00"),
        reference="out-1",
        refunded_on=date(2026, 11, 4),
    )
    assert refunded.overpaid == money("0.00")
    assert refunded.status is InvoiceStatus.PAID
    with pytest.raises(CurrencyMismatch):
        world.payments.record_refund(
            world.billing.staff,
            invoice.id,
            amount=money("1.00", "USD"),
            reference="out-2",
            refunded_on=date(2026, 11, 4),
        )
