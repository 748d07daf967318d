"""The payment-gateway contract, run against the in-memory fake, the manual gateway and Stripe
on its emulator: pay links, payments and refunds read exactly, signatures checked strictly."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from portal_core.billing.money import Money
from portal_core.payments.model import (
    Checkout,
    CheckoutUrls,
    EventNotVerified,
    PaymentEventKind,
)
from portal_core.payments.service import PaymentOutcome, PaymentService
from portal_core.payments.webhooks import receive_payment_webhook
from tests.contract.payments.conftest import NEW_SECRET, OLD_SECRET, GatewayKit
from tests.unit.payments.builders import PayWorld

SUCCESS = "https://portal.example/invoices/paid"
CANCEL = "https://portal.example/invoices"


def checkout(
    kit: GatewayKit, amount: Money, *, key: str = "key-1", invoice_id: str = "inv-1"
) -> Checkout:
    return kit.gateway.create_checkout(
        invoice_id=invoice_id,
        organisation_id="acme",
        amount=amount,
        description="Invoice INV-2026-0001",
        success_url=SUCCESS,
        cancel_url=CANCEL,
        idempotency_key=key,
    )


# pay links


def test_a_checkout_is_a_link_for_the_client_to_pay(kit: GatewayKit, world: PayWorld) -> None:
    made = checkout(kit, Money("540.00", "EUR"))
    assert made.url.startswith(("https://", "/"))
    assert made.session_id
    assert made.expires_at is None or made.expires_at > world.billing.clock.now()


def test_the_same_idempotency_key_and_request_give_the_same_checkout(kit: GatewayKit) -> None:
    first = checkout(kit, Money("540.00", "EUR"))
    assert checkout(kit, Money("540.00", "EUR")) == first
    assert checkout(kit, Money("540.00", "EUR"), key="key-2").session_id != first.session_id


# what the gateway says


@pytest.mark.parametrize(
    "amount",
    [Money("540.00", "EUR"), Money("1167", "JPY"), Money("1.500", "BHD"), Money("0.01", "USD")],
    ids=["EUR", "JPY", "BHD", "USD"],
)
def test_a_payment_is_read_exactly_in_the_currencys_minor_units(
    kit: GatewayKit, world: PayWorld, amount: Money
) -> None:
    made = checkout(kit, amount)
    sent = kit.pay("inv-1", made, amount)
    event = kit.gateway.parse_event(sent.body, sent.headers, world.billing.clock.now())
    assert event.kind is PaymentEventKind.SUCCEEDED
    assert event.source == kit.gateway.source
    assert event.invoice_id == "inv-1"
    assert event.amount == amount
    assert str(event.amount) == str(amount)
    assert event.payment_reference == sent.reference
    assert event.occurred_at == world.billing.clock.now().replace(microsecond=0)


def test_a_refund_names_the_payment_and_everything_refunded_so_far(
    kit: GatewayKit, world: PayWorld
) -> None:
    amount = Money("540.00", "EUR")
    paid = kit.pay("inv-1", checkout(kit, amount), amount)
    kit.refund(paid.reference, Money("100.00", "EUR"))
    sent = kit.refund(paid.reference, Money("250.00", "EUR"))
    event = kit.gateway.parse_event(sent.body, sent.headers, world.billing.clock.now())
    assert event.kind is PaymentEventKind.REFUNDED
    assert event.payment_reference == paid.reference
    assert event.amount == Money("250.00", "EUR")


# signatures


def paid_notification(kit: GatewayKit) -> tuple[bytes, dict[str, str]]:
    amount = Money("540.00", "EUR")
    sent = kit.pay("inv-1", checkout(kit, amount), amount)
    return sent.body, sent.headers


def test_a_flipped_byte_is_not_verified(kit: GatewayKit, world: PayWorld) -> None:
    body, headers = paid_notification(kit)
    middle = len(body) // 2
    flipped = body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]
    with pytest.raises(EventNotVerified):
        kit.gateway.parse_event(flipped, headers, world.billing.clock.now())


def test_re_serialised_json_is_not_verified(kit: GatewayKit, world: PayWorld) -> None:
    body, headers = paid_notification(kit)
    again = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True).encode()
    assert again != body
    with pytest.raises(EventNotVerified):
        kit.gateway.parse_event(again, headers, world.billing.clock.now())


def test_a_missing_or_empty_signature_is_not_verified(kit: GatewayKit, world: PayWorld) -> None:
    body, _ = paid_notification(kit)
    now = world.billing.clock.now()
    for headers in ({}, {kit.signature_header: ""}, {kit.signature_header: "t=1,v1="}):
        with pytest.raises(EventNotVerified):
            kit.gateway.parse_event(body, headers, now)


@pytest.mark.parametrize(
    ("skew", "accepted"), [(-301, False), (-300, True), (300, True), (301, False)]
)
def test_timestamps_are_accepted_within_300_seconds_either_way(
    kit: GatewayKit, world: PayWorld, skew: int, accepted: bool
) -> None:
    body, _ = paid_notification(kit)
    now = world.billing.clock.now()
    headers = kit.signed(body, NEW_SECRET, now + timedelta(seconds=skew))
    if accepted:
        assert kit.gateway.parse_event(body, headers, now).kind is PaymentEventKind.SUCCEEDED
    else:
        with pytest.raises(EventNotVerified):
            kit.gateway.parse_event(body, headers, now)


def test_old_and_new_secrets_are_both_accepted_while_rotating(
    kit: GatewayKit, world: PayWorld
) -> None:
    body, _ = paid_notification(kit)
    now = world.billing.clock.now()
    for secret in (OLD_SECRET, NEW_SECRET):
        assert (
            kit.gateway.parse_event(body, kit.signed(body, secret, now), now).invoice_id == "inv-1"
        )
    with pytest.raises(EventNotVerified):
        kit.gateway.parse_event(body, kit.signed(body, "whsec_someone_else", now), now)


def test_the_signature_header_is_found_whatever_its_case(kit: GatewayKit, world: PayWorld) -> None:
    body, headers = paid_notification(kit)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert kit.gateway.parse_event(body, lowered, world.billing.clock.now()).invoice_id == "inv-1"


# end to end, through the payment service


def test_a_paid_pay_link_settles_the_invoice_once_however_often_it_is_notified(
    kit: GatewayKit, world: PayWorld
) -> None:
    invoice = world.issued_invoice()
    service = PaymentService(
        uow=world.billing.storage.unit_of_work,
        clock=world.billing.clock,
        ids=world.ids,
        dispatcher=world.dispatcher,
        gateway=kit.gateway,
    )
    made = service.start_checkout(
        world.billing.acme_billing, invoice.id, CheckoutUrls(success_url=SUCCESS, cancel_url=CANCEL)
    )
    sent = kit.pay(invoice.id, made, invoice.gross)
    now = world.billing.clock.now()
    first = receive_payment_webhook(service, kit.gateway, sent.body, sent.headers, now)
    world.billing.clock.advance(timedelta(seconds=30))
    later = world.billing.clock.now()
    resent = kit.signed(sent.body, NEW_SECRET, later)  # the gateway's retry, signed anew
    again = receive_payment_webhook(service, kit.gateway, sent.body, resent, later)
    assert (first.status, first.body["outcome"]) == (200, PaymentOutcome.RECORDED.value)
    assert (again.status, again.body["outcome"]) == (200, PaymentOutcome.DUPLICATE.value)
    paid = world.invoice(invoice.id)
    assert paid.amount_paid == invoice.gross
    assert [p.reference for p in paid.payments] == [sent.reference]
