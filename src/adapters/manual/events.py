"""The portal's own signed payment notifications, for bank feeds and accounting tools.

A sender that is not a card gateway (a bank's notification service, the firm's accounting tool,
a script run by finance) reports money with a signed JSON body, verified like every signed
webhook (`t=<unix seconds>,v1=<hex>` over `"<t>.<raw body>"`, HMAC-SHA256, any of several
secrets, 300 s either way) in the `Portal-Signature` header:

    {"id": "evt-1", "type": "payment.succeeded", "created": 1793523600,
     "invoice_id": "…", "amount": "540.00", "currency": "EUR", "reference": "BANK-REF-1"}

`type` is `payment.succeeded`, `payment.refunded` (amount: everything refunded so far on the
payment named by `reference`) or `payment.failed`; amounts are decimal strings, never numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from portal_core.billing.money import Money
from portal_core.errors import InvalidInput
from portal_core.payments.model import (
    EventNotVerified,
    MalformedEvent,
    PaymentEvent,
    PaymentEventKind,
)
from portal_core.signatures import (
    DEFAULT_TOLERANCE_SECONDS,
    SignatureInvalid,
    sign,
    verify_signature,
)

SIGNATURE_HEADER = "Portal-Signature"

_KINDS = {
    "payment.succeeded": PaymentEventKind.SUCCEEDED,
    "payment.refunded": PaymentEventKind.REFUNDED,
    "payment.failed": PaymentEventKind.FAILED,
}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (plain dicts are case-sensitive, HTTP is not)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def verified_json(
    raw_body: bytes,
    signature: str | None,
    secrets: Sequence[str],
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """The body as a JSON object, once `signature` is verified over its raw bytes."""
    try:
        verify_signature(signature, raw_body, secrets, now, tolerance)
    except SignatureInvalid:
        raise EventNotVerified from None
    try:
        document = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedEvent("The notification is not JSON.") from None
    if not isinstance(document, dict):
        raise MalformedEvent("The notification is not a JSON object.")
    return document


def text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(f"The notification has no {key}.")
    return value


def timestamp(document: Mapping[str, Any], key: str) -> datetime:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedEvent(f"The notification's {key} is not a Unix time.")
    return datetime.fromtimestamp(value, UTC)


def parse_portal_event(
    source: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Sequence[str],
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> PaymentEvent:
    document = verified_json(raw_body, header(headers, SIGNATURE_HEADER), secrets, now, tolerance)
    kind = _KINDS.get(text(document, "type"), PaymentEventKind.IGNORED)
    amount = None
    if kind in (PaymentEventKind.SUCCEEDED, PaymentEventKind.REFUNDED):
        try:
            amount = Money(text(document, "amount"), text(document, "currency"))
        except InvalidInput as error:
            raise MalformedEvent(error.message) from None
        if not amount.is_rounded or amount.amount <= 0:
            raise MalformedEvent("The amount is not a positive amount in whole minor units.")
    invoice_id = document.get("invoice_id")
    return PaymentEvent(
        source=source,
        event_id=text(document, "id"),
        kind=kind,
        invoice_id=invoice_id if isinstance(invoice_id, str) and invoice_id else None,
        amount=amount,
        payment_reference=text(document, "reference") if amount is not None else None,
        occurred_at=timestamp(document, "created"),
    )


def portal_event_body(
    *,
    event_id: str,
    kind: str,
    created: datetime,
    invoice_id: str | None,
    amount: Money,
    reference: str,
) -> bytes:
    """A notification in the portal's format (for senders, fakes and tests)."""
    document = {
        "id": event_id,
        "type": kind,
        "created": int(created.timestamp()),
        "invoice_id": invoice_id,
        "amount": str(amount),
        "currency": amount.currency,
        "reference": reference,
    }
    return json.dumps(document).encode()


def signed_headers(body: bytes, secret: str, at: datetime) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, secret, at), "Content-Type": "application/json"}
