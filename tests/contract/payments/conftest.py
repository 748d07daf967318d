"""Payment gateways under one contract: the in-memory fake, the manual gateway, and Stripe on
its emulator. Each kit pairs a gateway with the sender's side (the client pays, the firm
refunds), so the same tests drive all three."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import datetime

import httpx
import pytest
from attrs import frozen

from adapters.manual import ManualPaymentGateway, portal_event_body, signed_headers
from adapters.memory.payments import InMemoryPaymentGateway
from adapters.stripe import StripePaymentGateway
from portal_core.billing.money import Money
from portal_core.payments.model import Checkout, to_minor_units
from portal_core.payments.ports import PaymentGateway
from portal_core.signatures import sign
from tests.contract.payments.stripe_emulator import SECRET_KEY, StripeEmulator
from tests.unit.payments.builders import PayWorld, make_pay_world

OLD_SECRET = "whsec_old_before_rotation"
NEW_SECRET = "whsec_new_after_rotation"
GATEWAYS = ["memory", "manual", "stripe"]


@frozen(kw_only=True)
class Sent:
    """A notification as POSTed: raw body, headers, and the payment's reference."""

    body: bytes
    headers: dict[str, str]
    reference: str


@frozen(kw_only=True)
class GatewayKit:
    name: str
    gateway: PaymentGateway
    signature_header: str
    pay: Callable[[str, Checkout, Money], Sent]
    """(invoice id, its checkout, amount paid) → the payment's notification."""
    refund: Callable[[str, Money], Sent]
    """(payment reference, total refunded so far) → the refund's notification."""

    def signed(self, body: bytes, secret: str, at: datetime) -> dict[str, str]:
        return {self.signature_header: sign(body, secret, at)}


@pytest.fixture
def world() -> PayWorld:
    return make_pay_world()


@pytest.fixture
def memory_kit(world: PayWorld) -> GatewayKit:
    gateway = InMemoryPaymentGateway(world.billing.clock, webhook_secrets=(OLD_SECRET, NEW_SECRET))

    def pay(invoice_id: str, checkout: Checkout, amount: Money) -> Sent:
        delivery = gateway.paid(checkout.session_id, amount)
        return Sent(
            body=delivery.body,
            headers=delivery.headers,
            reference=json.loads(delivery.body)["reference"],
        )

    def refund(reference: str, so_far: Money) -> Sent:
        delivery = gateway.refunded(reference, so_far)
        return Sent(body=delivery.body, headers=delivery.headers, reference=reference)

    return GatewayKit(
        name="memory", gateway=gateway, signature_header="Portal-Signature", pay=pay, refund=refund
    )


@pytest.fixture
def manual_kit(world: PayWorld) -> GatewayKit:
    gateway = ManualPaymentGateway(
        base_url="https://portal.example", webhook_secrets=(OLD_SECRET, NEW_SECRET)
    )
    numbers = itertools.count(1)
    clock = world.billing.clock

    def send(kind: str, invoice_id: str | None, amount: Money, reference: str) -> Sent:
        body = portal_event_body(
            event_id=f"bank-evt-{next(numbers)}",
            kind=kind,
            created=clock.now(),
            invoice_id=invoice_id,
            amount=amount,
            reference=reference,
        )
        return Sent(
            body=body, headers=signed_headers(body, NEW_SECRET, clock.now()), reference=reference
        )

    def pay(invoice_id: str, checkout: Checkout, amount: Money) -> Sent:
        return send("payment.succeeded", invoice_id, amount, f"BANK-{next(numbers)}")

    def refund(reference: str, so_far: Money) -> Sent:
        return send("payment.refunded", None, so_far, reference)

    return GatewayKit(
        name="manual", gateway=gateway, signature_header="Portal-Signature", pay=pay, refund=refund
    )


@pytest.fixture
def stripe_emulator(world: PayWorld) -> StripeEmulator:
    return StripeEmulator(world.billing.clock, webhook_secret=NEW_SECRET)


@pytest.fixture
def stripe_http(stripe_emulator: StripeEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(stripe_emulator.handler)) as client:
        yield client


@pytest.fixture
def stripe_gateway(stripe_http: httpx.Client) -> StripePaymentGateway:
    return StripePaymentGateway(
        stripe_http, secret_key=SECRET_KEY, webhook_secrets=(OLD_SECRET, NEW_SECRET)
    )


@pytest.fixture
def stripe_kit(stripe_emulator: StripeEmulator, stripe_gateway: StripePaymentGateway) -> GatewayKit:
    def pay(invoice_id: str, checkout: Checkout, amount: Money) -> Sent:
        delivery = stripe_emulator.complete(
            checkout.session_id,
            amount_total=to_minor_units(amount),
            currency=amount.currency.lower(),
        )
        return Sent(
            body=delivery.body,
            headers=delivery.headers,
            reference=delivery.event["data"]["object"]["payment_intent"],
        )

    def refund(reference: str, so_far: Money) -> Sent:
        charge = next(
            c for c in stripe_emulator.charges.values() if c["payment_intent"] == reference
        )
        delivery = stripe_emulator.refund(
            reference, to_minor_units(so_far) - charge["amount_refunded"]
        )
        return Sent(body=delivery.body, headers=delivery.headers, reference=reference)

    return GatewayKit(
        name="stripe",
        gateway=stripe_gateway,
        signature_header="Stripe-Signature",
        pay=pay,
        refund=refund,
    )


@pytest.fixture(params=GATEWAYS)
def kit(request: pytest.FixtureRequest) -> GatewayKit:
    found: GatewayKit = request.getfixturevalue(f"{request.param}_kit")
    return found
