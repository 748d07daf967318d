"""Stripe's webhook events as the portal's `PaymentEvent`s.

The body is Stripe's Event object, `{id, object: "event", type, created, data: {object}}`, signed
in the `Stripe-Signature` header. The portal acts on:
- `checkout.session.completed` with `payment_status` "paid", and
  `checkout.session.async_payment_succeeded` (bank debits that settle later): a payment of
  `amount_total` (integer minor units) in `currency` (lowercase), for the invoice in
  `metadata.invoice_id` (or `client_reference_id`), under the PaymentIntent's id;
- `checkout.session.async_payment_failed`: a failed attempt;
- `charge.refunded`: the charge's `amount_refunded` (everything refunded so far) on its
  `payment_intent`.
A completed checkout not yet paid, and every other type, is ignored (acknowledged, not acted on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.manual.events import text, timestamp
from portal_core.billing.money import MINOR_UNITS, Money
from portal_core.payments.model import (
    MalformedEvent,
    PaymentEvent,
    PaymentEventKind,
    from_minor_units,
)

SOURCE = "stripe"


def payment_event(document: Mapping[str, Any]) -> PaymentEvent:
    """The portal's reading of a verified Stripe Event object."""
    event_type = text(document, "type")
    data = document.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent("The event has no data object.")
    kind = PaymentEventKind.IGNORED
    if (
        event_type == "checkout.session.completed" and obj.get("payment_status") == "paid"
    ) or event_type == "checkout.session.async_payment_succeeded":
        kind = PaymentEventKind.SUCCEEDED
    elif event_type == "checkout.session.async_payment_failed":
        kind = PaymentEventKind.FAILED
    elif event_type == "charge.refunded":
        kind = PaymentEventKind.REFUNDED
    event_id = text(document, "id")
    occurred_at = timestamp(document, "created")
    if kind in (PaymentEventKind.SUCCEEDED, PaymentEventKind.REFUNDED):
        amount_key = "amount_total" if kind is PaymentEventKind.SUCCEEDED else "amount_refunded"
        return PaymentEvent(
            source=SOURCE,
            event_id=event_id,
            kind=kind,
            invoice_id=_invoice_id(obj),
            amount=_amount(obj, amount_key),
            payment_reference=_optional(obj, "payment_intent") or text(obj, "id"),
            occurred_at=occurred_at,
        )
    return PaymentEvent(
        source=SOURCE,
        event_id=event_id,
        kind=kind,
        invoice_id=None,
        amount=None,
        payment_reference=None,
        occurred_at=occurred_at,
    )


def _optional(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, dict):  # an expanded object: its id
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _invoice_id(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    from_metadata = metadata.get("invoice_id") if isinstance(metadata, dict) else None
    if isinstance(from_metadata, str) and from_metadata:
        return from_metadata
    return _optional(obj, "client_reference_id")


def _amount(obj: Mapping[str, Any], key: str) -> Money:
    value = obj.get(key)
    currency = obj.get("currency")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise MalformedEvent(f"The event's {key} is not a positive whole number.")
    if not isinstance(currency, str) or currency.upper() not in MINOR_UNITS:
        raise MalformedEvent(f"The event's currency {currency!r} is not one the portal bills in.")
    return from_minor_units(value, currency)
