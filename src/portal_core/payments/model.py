"""Payments: checkouts, verified payment events, and the errors a payment can be refused with.

A payment gateway turns an invoice's open amount into a checkout (a pay link), and the gateway's
notifications into `PaymentEvent`s once their signature is verified. Amounts are `Money` in the
invoice's currency; gateways that count in minor units (Stripe: cents, yen, fils) convert with
`from_minor_units` / `to_minor_units`, by the currency's minor units (EUR 2, JPY 0, BHD 3).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from attrs import frozen

from portal_core.billing.money import MINOR_UNITS, Money
from portal_core.errors import Conflict, DomainError, InvalidInput


class PaymentEventKind(enum.StrEnum):
    SUCCEEDED = "payment_succeeded"
    """Money was received for an invoice."""
    REFUNDED = "payment_refunded"
    """Money was paid back; the amount is everything refunded so far on that payment."""
    FAILED = "payment_failed"
    """An attempt failed (a declined bank debit): nothing to record."""
    IGNORED = "ignored"
    """A notification the portal does not act on (other event types, unpaid checkouts)."""


@frozen(kw_only=True)
class Checkout:
    """Where the client pays: the gateway's page (Stripe) or the portal's instructions (manual)."""

    url: str
    session_id: str
    expires_at: datetime | None
    """None when the link does not expire (bank-transfer instructions)."""


@frozen(kw_only=True)
class CheckoutUrls:
    """Where the gateway sends the client back to after paying, or giving up."""

    success_url: str
    cancel_url: str


@frozen(kw_only=True)
class PaymentEvent:
    """A verified notification from a payment gateway, in the portal's terms."""

    source: str
    """Which gateway said it ("stripe", "manual", "memory"): event ids are unique per source."""
    event_id: str
    kind: PaymentEventKind
    invoice_id: str | None
    """From the checkout's metadata; None when the gateway only names the payment (refunds)."""
    amount: Money | None
    """Paid (SUCCEEDED) or refunded so far on the payment (REFUNDED); None otherwise."""
    payment_reference: str | None
    """The gateway's id of the payment (Stripe: the PaymentIntent), the same on its refunds."""
    occurred_at: datetime


def from_minor_units(value: int, currency: str) -> Money:
    """`54000` EUR cents → EUR 540.00; `1167` JPY → JPY 1167; `1500` BHD fils → BHD 1.500."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("An amount in minor units is a whole number.")
    code = currency.upper()
    if code not in MINOR_UNITS:
        raise InvalidInput(f"Unsupported currency {currency!r}.")
    return Money(Decimal(value).scaleb(-MINOR_UNITS[code]), code)


def to_minor_units(amount: Money) -> int:
    """EUR 540.00 → 54000; refuses amounts finer than the currency's minor unit."""
    if not amount.is_rounded:
        raise InvalidInput(f"{amount} is finer than one minor unit of {amount.currency}.")
    return int(amount.amount.scaleb(amount.minor_units))


# --- refusals --------------------------------------------------------------------------------


class EventNotVerified(DomainError):
    """The notification is not proven to come from the gateway (signature, timestamp, header).
    One message for every reason, so that a forger learns nothing; the reason is logged."""

    code = "event_not_verified"

    def __init__(self) -> None:
        super().__init__("The payment notification could not be verified.")


class MalformedEvent(InvalidInput):
    """Signed by the gateway, but not a notification the portal can read."""

    code = "malformed_event"


class PaymentRefused(InvalidInput):
    """A verified payment the portal will not record: `code` says why. Nothing is recorded."""

    code = "payment_refused"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


UNKNOWN_INVOICE = "unknown_invoice"
INVOICE_ALREADY_PAID = "invoice_already_paid"
INVOICE_NOT_PAYABLE = "invoice_not_payable"
CURRENCY_MISMATCH = "currency_mismatch"


class GatewayUnavailable(DomainError):
    """The payment gateway could not be reached or failed (timeout, 5xx, rate limit): nothing
    was charged by us; try again shortly. Never carries the gateway's raw reply or a secret."""

    code = "gateway_unavailable"


class RefundNotCovered(Conflict):
    """A refund larger than the credit the client holds on the invoice: a credit note must be
    issued first. Temporary by nature: once it is issued, the gateway's retry is recorded."""

    code = "refund_not_covered"
