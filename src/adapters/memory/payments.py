"""An in-memory payment gateway: checkouts kept in a dict, notifications in the portal's signed
format (`adapters.manual.events`), made by `paid` and `refunded` for tests to deliver."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from attrs import frozen

from adapters.manual.events import parse_portal_event, portal_event_body, signed_headers
from portal_core.billing.money import Money
from portal_core.errors import Conflict, InvalidInput
from portal_core.payments.model import Checkout, PaymentEvent
from portal_core.ports import Clock

CHECKOUT_LIFETIME = timedelta(hours=24)


@frozen(kw_only=True)
class FakeCheckout:
    """What the gateway was asked for, and what it answered."""

    invoice_id: str
    organisation_id: str
    amount: Money
    description: str
    success_url: str
    cancel_url: str
    checkout: Checkout


@frozen(kw_only=True)
class Delivery:
    """A notification as the gateway would POST it: the raw body and its headers."""

    body: bytes
    headers: dict[str, str]


class InMemoryPaymentGateway:
    def __init__(
        self,
        clock: Clock,
        *,
        webhook_secrets: Sequence[str] = ("whsec_memory",),
        source: str = "memory",
    ) -> None:
        self._clock = clock
        self._secrets = tuple(webhook_secrets)
        self.source = source
        self.checkouts: dict[str, FakeCheckout] = {}
        """By idempotency key."""
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def create_checkout(
        self,
        *,
        invoice_id: str,
        organisation_id: str,
        amount: Money,
        description: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> Checkout:
        if amount.amount <= 0 or not amount.is_rounded:
            raise InvalidInput("A checkout is for a positive amount in whole minor units.")
        with self._lock:
            seen = self.checkouts.get(idempotency_key)
            request = (invoice_id, organisation_id, amount, description, success_url, cancel_url)
            if seen is not None:
                if request != (
                    seen.invoice_id,
                    seen.organisation_id,
                    seen.amount,
                    seen.description,
                    seen.success_url,
                    seen.cancel_url,
                ):
                    raise Conflict("This idempotency key was used for a different checkout.")
                return seen.checkout
            session_id = f"fake_cs_{next(self._numbers):06d}"
            checkout = Checkout(
                url=f"https://payments.invalid/checkout/{session_id}",
                session_id=session_id,
                expires_at=self._clock.now() + CHECKOUT_LIFETIME,
            )
            self.checkouts[idempotency_key] = FakeCheckout(
                invoice_id=invoice_id,
                organisation_id=organisation_id,
                amount=amount,
                description=description,
                success_url=success_url,
                cancel_url=cancel_url,
                checkout=checkout,
            )
            return checkout

    def parse_event(
        self, raw_body: bytes, headers: Mapping[str, str], now: datetime
    ) -> PaymentEvent:
        return parse_portal_event(self.source, raw_body, headers, secrets=self._secrets, now=now)

    # the client's side, for tests -----------------------------------------------------------

    def paid(self, session_id: str, amount: Money | None = None) -> Delivery:
        """The client paid the checkout (its amount unless told otherwise)."""
        found = next(c for c in self.checkouts.values() if c.checkout.session_id == session_id)
        return self._deliver(
            kind="payment.succeeded",
            invoice_id=found.invoice_id,
            amount=amount or found.amount,
            reference=f"fake_pay_{session_id}",
        )

    def refunded(self, reference: str, refunded_so_far: Money) -> Delivery:
        """The firm refunded `refunded_so_far` in all of the payment `reference`."""
        return self._deliver(
            kind="payment.refunded", invoice_id=None, amount=refunded_so_far, reference=reference
        )

    def _deliver(
        self, *, kind: str, invoice_id: str | None, amount: Money, reference: str
    ) -> Delivery:
        now = self._clock.now()
        body = portal_event_body(
            event_id=f"fake_evt_{next(self._numbers):06d}",
            kind=kind,
            created=now,
            invoice_id=invoice_id,
            amount=amount,
            reference=reference,
        )
        return Delivery(body=body, headers=signed_headers(body, self._secrets[-1], now))
