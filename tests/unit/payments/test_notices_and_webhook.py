"""Receipts and reminders through the outbox relay, and the webhook's replies to the gateway."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest

from adapters.memory import InMemoryNotifier
from portal_core.delivery import OutboxRelay
from portal_core.payments.notices import PaymentNotices
from portal_core.payments.webhooks import receive_payment_webhook
from tests.unit.payments.builders import NOVEMBER_2ND, PayWorld, make_pay_world, money, paid_event

URLS_SUCCESS = "https://portal.example/paid"


@pytest.fixture
def world() -> PayWorld:
    return make_pay_world()


def relay(world: PayWorld, notifier: InMemoryNotifier) -> OutboxRelay:
    notices = PaymentNotices(uow=world.billing.storage.unit_of_work, notifier=notifier)
    return OutboxRelay(
        uow=world.billing.storage.unit_of_work,
        clock=world.billing.clock,
        handlers=notices.handlers(),
        draw=lambda: 0.0,
    )


# receipts and reminders


def test_each_payment_gets_one_receipt_to_the_billing_contacts(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.payments.handle_event(paid_event(invoice.id, money("600.00")))
    notifier = InMemoryNotifier()
    relay(world, notifier).run_once()
    notices = PaymentNotices(uow=world.billing.storage.unit_of_work, notifier=notifier)
    receipt = next(
        m.event
        for m in world.billing.storage.state.outbox.values()
        if m.event.kind == "invoice.payment_recorded"
    )
    notices.send_receipt(receipt)  # the relay delivers at least once: a second delivery
    assert [(n.to, n.kind, n.subject) for n in notifier.sent] == [
        ("bea@example.com", "payment_receipt", "Payment received for invoice INV-2026-0001")
    ]
    assert "EUR 60.00 more than was due" in notifier.sent[0].body


def test_a_reminder_is_dropped_when_the_invoice_was_paid_before_it_went_out(
    world: PayWorld,
) -> None:
    invoice = world.issued_invoice()
    world.reminders.run(date(2026, 12, 2))
    world.payments.handle_event(paid_event(invoice.id, money("540.00")))
    notifier = InMemoryNotifier()
    relay(world, notifier).run_once()
    assert [n.kind for n in notifier.sent] == ["payment_receipt"]


def test_an_overdue_reminder_says_how_late_and_how_much(world: PayWorld) -> None:
    world.issued_invoice()
    world.reminders.run(date(2026, 12, 9))
    notifier = InMemoryNotifier()
    relay(world, notifier).run_once()
    (sent,) = notifier.sent
    assert sent.subject == "Invoice INV-2026-0001 is overdue"
    assert "EUR 540.00 on invoice INV-2026-0001 was due on 2026-12-02, 7 days ago" in sent.body


# webhook replies


def deliver(world: PayWorld, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    reply = receive_payment_webhook(
        world.payments, world.gateway, body, headers, world.billing.clock.now()
    )
    return reply.status, reply.body


def test_a_paid_checkout_is_acknowledged_once_recorded_and_again_as_a_duplicate(
    world: PayWorld,
) -> None:
    invoice = world.issued_invoice()
    checkout = world.gateway.create_checkout(
        invoice_id=invoice.id,
        organisation_id="acme",
        amount=money("540.00"),
        description="Invoice INV-2026-0001",
        success_url=URLS_SUCCESS,
        cancel_url=URLS_SUCCESS,
        idempotency_key="k",
    )
    delivery = world.gateway.paid(checkout.session_id)
    assert deliver(world, delivery.body, delivery.headers)[0] == 200
    assert deliver(world, delivery.body, delivery.headers) == (
        200,
        {"outcome": "duplicate", "event_id": json.loads(delivery.body)["id"]},
    )
    assert world.invoice(invoice.id).amount_paid == money("540.00")


def test_webhook_refusals_have_their_own_status_and_code(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    checkout = world.gateway.create_checkout(
        invoice_id=invoice.id,
        organisation_id="acme",
        amount=money("540.00"),
        description="Invoice INV-2026-0001",
        success_url=URLS_SUCCESS,
        cancel_url=URLS_SUCCESS,
        idempotency_key="k",
    )
    before = world.snapshot()
    good = world.gateway.paid(checkout.session_id)
    forged = bytes([good.body[0] ^ 1]) + good.body[1:]
    assert deliver(world, forged, good.headers)[1]["code"] == "event_not_verified"
    assert deliver(world, forged, good.headers)[0] == 401
    dollars = world.gateway.paid(checkout.session_id, money("540.00", "USD"))
    assert deliver(world, dollars.body, dollars.headers) == (
        422,
        {
            "code": "currency_mismatch",
            "detail": "Invoice INV-2026-0001 is payable in EUR, not USD.",
        },
    )
    refund = world.gateway.refunded("fake_pay_x", money("1.00"))
    assert deliver(world, refund.body, refund.headers)[1]["code"] == "unknown_invoice"
    assert world.snapshot() == before
    world.billing.clock.advance(timedelta(seconds=301))
    assert deliver(world, good.body, good.headers)[0] == 401  # stale
    world.billing.clock.set(NOVEMBER_2ND)
    paid = world.gateway.paid(checkout.session_id)
    assert deliver(world, paid.body, paid.headers)[0] == 200
    too_much = world.gateway.refunded(json.loads(paid.body)["reference"], money("100.00"))
    assert deliver(world, too_much.body, too_much.headers)[:1] == (409,)
    assert deliver(world, too_much.body, too_much.headers)[1]["code"] == "refund_not_covered"


def test_the_webhook_logs_refusals_without_the_body_or_a_secret(
    world: PayWorld, caplog: pytest.LogCaptureFixture
) -> None:
    invoice = world.issued_invoice()
    checkout = world.gateway.create_checkout(
        invoice_id=invoice.id,
        organisation_id="acme",
        amount=money("540.00"),
        description="Invoice INV-2026-0001",
        success_url=URLS_SUCCESS,
        cancel_url=URLS_SUCCESS,
        idempotency_key="k",
    )
    good = world.gateway.paid(checkout.session_id)
    forged = good.body.replace(b"540.00", b"5.00")
    dollars = world.gateway.paid(checkout.session_id, money("540.00", "USD"))
    with caplog.at_level(logging.INFO):
        deliver(world, forged, good.headers)
        deliver(world, dollars.body, dollars.headers)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "not verified" in messages[0]
    assert "currency_mismatch" in messages[1]
    assert json.loads(dollars.body)["id"] in messages[1]
    for message in messages:
        assert "whsec" not in message
        assert "fake_pay_" not in message  # nothing of the body beyond the event's id
