"""Payment webhooks through the app: a payment is recorded once, and only when proven."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from adapters.manual import portal_event_body, signed_headers
from adapters.memory import InMemoryFileStore, SequentialIds
from adapters.stripe import StripePaymentGateway
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.web import create_app
from entrypoints.web.webhooks import MANUAL_PAYMENTS_PATH, STRIPE_PATH
from portal_core.billing.invoice import Invoice
from portal_core.payments.model import CheckoutUrls, to_minor_units
from portal_core.signatures import sign
from tests.contract.payments.stripe_emulator import SECRET_KEY, StripeEmulator
from tests.e2e.conftest import TEST_HOST, settings_for
from tests.unit.payments.builders import PayWorld, make_pay_world

STRIPE_SECRET = "whsec_endpoint_secret_for_tests"
BANK_SECRET = "bank-feed-secret-for-tests"
URLS = CheckoutUrls(success_url="https://portal.example/paid", cancel_url="https://portal.example")


@pytest.fixture
def world() -> PayWorld:
    return make_pay_world()


@pytest.fixture
def emulator(world: PayWorld) -> StripeEmulator:
    return StripeEmulator(world.billing.clock, webhook_secret=STRIPE_SECRET)


def container_for(
    tmp_path: Path, world: PayWorld, *, gateway: StripePaymentGateway | None = None
) -> Container:
    return bootstrap(
        settings_for(tmp_path, payment_notification_secrets=BANK_SECRET),
        clock=world.billing.clock,
        ids=SequentialIds("web"),
        uow=world.billing.storage.unit_of_work,
        files=InMemoryFileStore(world.billing.clock),
        payment_gateway=gateway,
    )


@pytest.fixture
def stripe_container(
    tmp_path: Path, world: PayWorld, emulator: StripeEmulator
) -> Iterator[Container]:
    with httpx.Client(transport=httpx.MockTransport(emulator.handler)) as http:
        gateway = StripePaymentGateway(
            http, secret_key=SECRET_KEY, webhook_secrets=("whsec_old_one", STRIPE_SECRET)
        )
        yield container_for(tmp_path, world, gateway=gateway)


def client_for(container: Container) -> TestClient[Litestar]:
    return TestClient(create_app(container), base_url=f"http://{TEST_HOST}")


def test_a_stripe_payment_is_recorded_once_however_often_it_is_delivered(
    world: PayWorld, emulator: StripeEmulator, stripe_container: Container
) -> None:
    invoice = world.issued_invoice()
    checkout = stripe_container.payments.start_checkout(
        world.billing.acme_billing, invoice.id, URLS
    )
    delivery = emulator.complete(
        checkout.session_id,
        amount_total=to_minor_units(invoice.gross),
        currency=invoice.gross.currency.lower(),
    )
    with client_for(stripe_container) as http:
        first = http.post(STRIPE_PATH, content=delivery.body, headers=delivery.headers)
        world.billing.clock.advance(timedelta(minutes=1))
        retry = emulator.redeliver(delivery.event)  # Stripe's retry, signed anew
        again = http.post(STRIPE_PATH, content=retry.body, headers=retry.headers)

    assert (first.status_code, first.json()["outcome"]) == (200, "recorded")
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    paid: Invoice = world.invoice(invoice.id)
    assert paid.amount_paid == invoice.gross
    assert len(paid.payments) == 1


@pytest.mark.parametrize(
    "signature",
    [None, "t=1,v1=00", "wrong secret", "stale"],
    ids=["unsigned", "garbage", "wrong secret", "stale"],
)
def test_an_unproven_stripe_event_gets_401_and_records_nothing(
    world: PayWorld,
    emulator: StripeEmulator,
    stripe_container: Container,
    signature: str | None,
) -> None:
    invoice = world.issued_invoice()
    checkout = stripe_container.payments.start_checkout(
        world.billing.acme_billing, invoice.id, URLS
    )
    delivery = emulator.complete(
        checkout.session_id,
        amount_total=to_minor_units(invoice.gross),
        currency=invoice.gross.currency.lower(),
    )
    now = world.billing.clock.now()
    headers = {"Content-Type": "application/json"}
    if signature == "wrong secret":
        headers["Stripe-Signature"] = sign(delivery.body, "whsec_someone_else", now)
    elif signature == "stale":
        headers["Stripe-Signature"] = sign(delivery.body, STRIPE_SECRET, now - timedelta(hours=1))
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    with client_for(stripe_container) as http:
        reply = http.post(STRIPE_PATH, content=delivery.body, headers=headers)

    assert reply.status_code == 401
    assert world.invoice(invoice.id).payments == ()
    assert not world.billing.storage.state.processed_events


def test_the_stripe_route_answers_404_without_stripe(tmp_path: Path, world: PayWorld) -> None:
    with client_for(container_for(tmp_path, world)) as http:
        reply = http.post(STRIPE_PATH, content=b"{}", headers={"Stripe-Signature": "t=1,v1=0"})
    assert reply.status_code == 404


def test_a_signed_bank_notification_records_the_transfer_once(
    tmp_path: Path, world: PayWorld
) -> None:
    invoice = world.issued_invoice()
    now = world.billing.clock.now()
    body = portal_event_body(
        event_id="bank-evt-1",
        kind="payment.succeeded",
        created=now,
        invoice_id=invoice.id,
        amount=invoice.gross,
        reference="BANK-REF-1",
    )
    with client_for(container_for(tmp_path, world)) as http:
        first = http.post(
            MANUAL_PAYMENTS_PATH, content=body, headers=signed_headers(body, BANK_SECRET, now)
        )
        again = http.post(
            MANUAL_PAYMENTS_PATH, content=body, headers=signed_headers(body, BANK_SECRET, now)
        )
        forged = http.post(
            MANUAL_PAYMENTS_PATH,
            content=body.replace(b"bank-evt-1", b"bank-evt-2"),
            headers=signed_headers(body, BANK_SECRET, now),
        )

    assert (first.status_code, first.json()["outcome"]) == (200, "recorded")
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert forged.status_code == 401
    assert [p.reference for p in world.invoice(invoice.id).payments] == ["BANK-REF-1"]
