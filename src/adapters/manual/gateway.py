"""The manual payment gateway, the embedded default: clients pay by bank transfer.

Its pay link is the portal's own page with the transfer instructions (account details and the
reference to quote), `/invoices/{id}/pay?reference=...`; it never expires. Staff record the
transfers they see arrive (`PaymentService.record_manual_payment`), or a bank feed or accounting
tool sends the portal's signed notifications (`adapters.manual.events`). Stateless: the link is
a function of the request, so the same request always gives the same checkout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import quote, urlencode

from adapters.manual.events import parse_portal_event
from portal_core.billing.money import Money
from portal_core.errors import InvalidInput
from portal_core.payments.model import Checkout, PaymentEvent


class ManualPaymentGateway:
    def __init__(
        self,
        *,
        base_url: str = "",
        webhook_secrets: Sequence[str] = (),
        source: str = "manual",
    ) -> None:
        """`base_url`: the portal's address ("" for links relative to the site);
        `webhook_secrets`: for signed notifications (none: every notification is refused)."""
        self._base_url = base_url.rstrip("/")
        self._secrets = tuple(webhook_secrets)
        self.source = source

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
        if amount.amount <= 0:
            raise InvalidInput("There is nothing to pay.")
        query = urlencode({"reference": description}, quote_via=quote)
        return Checkout(
            url=f"{self._base_url}/invoices/{quote(invoice_id, safe='')}/pay?{query}",
            session_id=f"manual:{idempotency_key}",
            expires_at=None,
        )

    def parse_event(
        self, raw_body: bytes, headers: Mapping[str, str], now: datetime
    ) -> PaymentEvent:
        return parse_portal_event(self.source, raw_body, headers, secrets=self._secrets, now=now)
