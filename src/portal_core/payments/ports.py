"""The payment gateway port: a pay link for an invoice, and verified payment notifications."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from portal_core.billing.money import Money
from portal_core.payments.model import Checkout, PaymentEvent


class PaymentGateway(Protocol):
    """Stripe, manual bank transfers, or the in-memory fake."""

    source: str
    """The name its events are de-duplicated under ("stripe", "manual", "memory")."""

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
        """A pay link for `amount` of the invoice. The same key with the same request gives the
        same checkout; the same key with a different request is refused (Conflict)."""
        ...

    def parse_event(
        self, raw_body: bytes, headers: Mapping[str, str], now: datetime
    ) -> PaymentEvent:
        """The notification in `raw_body`, once its signature is verified against the raw
        bytes: EventNotVerified (signature, timestamp) or MalformedEvent otherwise. Never logs
        the body or a secret."""
        ...
