"""Stripe on its emulator: the wire format of a pay link, Stripe's failures, its event types, and
duplicated and reordered webhook deliveries through the whole path."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.stripe import StripePaymentGateway
from portal_core.billing.money import Money
from portal_core.billing.service import IssueCreditNote
from portal_core.errors import Conflict, InvalidInput
from portal_core.payments.model import (
    GatewayUnavailable,
    MalformedEvent,
    PaymentEventKind,
)
from portal_core.payments.service import PaymentService
from portal_core.payments.webhooks import receive_payment_webhook
from portal_core.signatures import sign
from tests.contract.payments.conftest import NEW_SECRET, OLD_SECRET
from tests.contract.payments.stripe_emulator import SECRET_KEY, Delivery, StripeEmulator
from tests.unit.payments.builders import PayWorld, make_pay_world


def create(
    gateway: StripePaymentGateway,
    amount: Money,
    *,
    key: str = "k1",
    name: str = "Invoice INV-2026-0001",
    invoice_id: str = "inv-1",
) -> str:
    return gateway.create_checkout(
        invoice_id=invoice_id,
        organisation_id="acme",
        amount=amount,
        description=name,
        success_url="https://portal.example/paid",
        cancel_url=f"https://portal.example/invoices/{invoice_id}",
        idempotency_key=key,
    ).session_id


@pytest.mark.parametrize(
    ("amount", "currency", "unit_amount"),
    [
        (Money("540.00", "EUR"), "eur", "54000"),
        (Money("1167", "JPY"), "jpy", "1167"),
        (Money("1.500", "BHD"), "bhd", "1500"),
    ],
)
def test_a_pay_link_is_a_one_line_payment_session_in_minor_units(
    stripe_gateway: StripePaymentGateway,
    stripe_emulator: StripeEmulator,
    amount: Money,
    currency: str,
    unit_amount: str,
) -> None:
    create(stripe_gateway, amount)
    (request,) = stripe_emulator.requests
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["Idempotency-Key"] == "k1"
    assert dict(parse_qsl(request.content.decode())) == {
        "mode": "payment",
        "line_items[0][price_data][currency]": currency,
        "line_items[0][price_data][unit_amount]": unit_amount,
        "line_items[0][price_data][product_data][name]": "Invoice INV-2026-0001",
        "line_items[0][quantity]": "1",
        "client_reference_id": "inv-1",
        "metadata[invoice_id]": "inv-1",
        "metadata[organisation_id]": "acme",
        "payment_intent_data[metadata][invoice_id]": "inv-1",
        "success_url": "https://portal.example/paid",
        "cancel_url": "https://portal.example/invoices/inv-1",
    }


def test_an_idempotency_key_reused_for_another_amount_is_a_conflict(
    stripe_gateway: StripePaymentGateway, stripe_emulator: StripeEmulator
) -> None:
    first = create(stripe_gateway, Money("540.00", "EUR"))
    assert create(stripe_gateway, Money("540.00", "EUR")) == first
    with pytest.raises(Conflict):
        create(stripe_gateway, Money("500.00", "EUR"))
    assert list(stripe_emulator.sessions) == [first]


def test_stripe_down_or_unreachable_is_a_temporary_failure(
    stripe_gateway: StripePaymentGateway, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.outage = True
    with pytest.raises(GatewayUnavailable):
        create(stripe_gateway, Money("540.00", "EUR"))

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        gateway = StripePaymentGateway(client, secret_key=SECRET_KEY, webhook_secrets=(NEW_SECRET,))
        with pytest.raises(GatewayUnavailable):
            create(gateway, Money("540.00", "EUR"))


def test_a_refused_request_says_why_without_the_secret(
    stripe_emulator: StripeEmulator, stripe_http: httpx.Client
) -> None:
    gateway = StripePaymentGateway(
        stripe_http, secret_key="sk_test_wrong", webhook_secrets=(NEW_SECRET,)
    )
    with pytest.raises(InvalidInput) as refused:
        create(gateway, Money("540.00", "EUR"))
    assert "sk_test" not in refused.value.message
    with pytest.raises(InvalidInput):
        create(
            StripePaymentGateway(stripe_http, secret_key=SECRET_KEY, webhook_secrets=(NEW_SECRET,)),
            Money("540.00", "EUR"),
            name="",
        )


def parse(gateway: StripePaymentGateway, world: PayWorld, delivery: Delivery) -> PaymentEventKind:
    return gateway.parse_event(delivery.body, delivery.headers, world.billing.clock.now()).kind


def test_only_paid_sessions_and_refunds_are_acted_on(
    stripe_gateway: StripePaymentGateway, stripe_emulator: StripeEmulator, world: PayWorld
) -> None:
    pending = create(stripe_gateway, Money("540.00", "EUR"), key="a")
    assert (
        parse(stripe_gateway, world, stripe_emulator.complete(pending, payment_status="unpaid"))
        is PaymentEventKind.IGNORED
    )
    settled = stripe_emulator.complete(
        pending, event_type="checkout.session.async_payment_succeeded"
    )
    assert parse(stripe_gateway, world, settled) is PaymentEventKind.SUCCEEDED
    declined = create(stripe_gateway, Money("540.00", "EUR"), key="b")
    failed = stripe_emulator.complete(
        declined, payment_status="unpaid", event_type="checkout.session.async_payment_failed"
    )
    assert parse(stripe_gateway, world, failed) is PaymentEventKind.FAILED
    other = stripe_emulator.deliver("customer.created", {"id": "cus_1", "object": "customer"})
    assert parse(stripe_gateway, world, other) is PaymentEventKind.IGNORED


@pytest.mark.parametrize(
    "change",
    [
        {"currency": "xof"},
        {"amount_total": "54000"},
        {"amount_total": -1},
        {"amount_total": None},
    ],
)
def test_a_signed_but_unreadable_payment_is_malformed(
    stripe_gateway: StripePaymentGateway,
    stripe_emulator: StripeEmulator,
    world: PayWorld,
    change: dict[str, object],
) -> None:
    session = stripe_emulator.sessions[create(stripe_gateway, Money("540.00", "EUR"))]
    obj = {**session, "payment_status": "paid", "payment_intent": "pi_1", **change}
    delivery = stripe_emulator.deliver("checkout.session.completed", obj)
    with pytest.raises(MalformedEvent):
        parse(stripe_gateway, world, delivery)


def test_a_signed_body_that_is_not_json_is_malformed(
    stripe_gateway: StripePaymentGateway, world: PayWorld
) -> None:
    now = world.billing.clock.now()
    body = b"not json"
    with pytest.raises(MalformedEvent):
        stripe_gateway.parse_event(body, {"Stripe-Signature": sign(body, OLD_SECRET, now)}, now)


# the whole path: emulator → webhook → service → invoice


def _cents(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):f}"


@st.composite
def webhook_histories(draw: st.DrawFn) -> tuple[list[int], list[int], list[int], list[int]]:
    """Payments and refund steps (cents), and the order each phase's deliveries arrive in, with
    copies: payments first (a refund needs its payment), then refunds among late copies."""
    payments = draw(st.lists(st.integers(1, 9000), min_size=1, max_size=4))
    steps = draw(st.lists(st.integers(1, 9000), max_size=3))
    refunds = []
    for cents in steps:  # Stripe never refunds more than was paid
        if sum(refunds) + cents <= payments[0]:
            refunds.append(cents)
    paying = list(range(len(payments)))
    first = draw(st.permutations(paying + draw(st.lists(st.sampled_from(paying), max_size=3))))
    everything = list(range(len(payments) + len(refunds)))
    late = list(range(len(payments), len(everything)))
    copies = draw(st.lists(st.sampled_from(everything), max_size=4))
    second = draw(st.permutations(late + copies))
    return payments, refunds, first, second


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=webhook_histories())
def test_stripe_deliveries_duplicated_and_reordered_record_each_distinct_event_once(
    history: tuple[list[int], list[int], list[int], list[int]],
) -> None:
    payments, refunds, first, second = history
    world = make_pay_world()
    invoice = world.issued_invoice(600)  # 2,160.00: four payments of up to 90.00 never settle it
    emulator = StripeEmulator(world.billing.clock, webhook_secret=NEW_SECRET)
    with httpx.Client(transport=httpx.MockTransport(emulator.handler)) as client:
        gateway = StripePaymentGateway(client, secret_key=SECRET_KEY, webhook_secrets=(NEW_SECRET,))
        service = PaymentService(
            uow=world.billing.storage.unit_of_work,
            clock=world.billing.clock,
            ids=world.ids,
            dispatcher=world.dispatcher,
            gateway=gateway,
        )

        def arrive(delivery: Delivery) -> None:
            world.billing.clock.advance(timedelta(seconds=1))
            resent = emulator.redeliver(delivery.event)  # signed anew, as Stripe's retries are
            reply = receive_payment_webhook(
                service, gateway, resent.body, resent.headers, world.billing.clock.now()
            )
            assert reply.status == 200, reply.body

        deliveries = [
            emulator.complete(
                create(
                    gateway, Money(_cents(cents), "EUR"), key=f"k{number}", invoice_id=invoice.id
                )
            )
            for number, cents in enumerate(payments)
        ]
        for index in first:
            arrive(deliveries[index])
        # Voided after payment: what was paid becomes the client's credit, to refund from.
        world.billing.billing.issue_credit_note(
            world.billing.staff, IssueCreditNote(invoice_id=invoice.id, reason="Void")
        )
        first_intent = deliveries[0].event["data"]["object"]["payment_intent"]
        deliveries += [emulator.refund(first_intent, cents) for cents in refunds]
        for index in second:
            arrive(deliveries[index])
    paid = world.invoice(invoice.id)
    assert paid.amount_paid == Money(_cents(sum(payments) - sum(refunds)), "EUR")
    # A larger refund total arriving first covers the smaller one that arrives late.
    assert len([p for p in paid.payments if not p.is_refund]) == len(payments)
