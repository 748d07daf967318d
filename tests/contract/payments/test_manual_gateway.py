"""The manual gateway's pay link: the portal's bank-transfer page, quoting the reference."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.manual import ManualPaymentGateway, signed_headers
from portal_core.billing.money import Money
from portal_core.errors import InvalidInput
from portal_core.payments.model import EventNotVerified


def pay_link(gateway: ManualPaymentGateway, invoice_id: str, amount: Money) -> str:
    return gateway.create_checkout(
        invoice_id=invoice_id,
        organisation_id="acme",
        amount=amount,
        description="Invoice INV-2026-0001",
        success_url="https://portal.example/paid",
        cancel_url="https://portal.example",
        idempotency_key="k",
    ).url


def test_the_pay_link_is_the_invoices_transfer_page_with_the_reference_to_quote() -> None:
    url = pay_link(ManualPaymentGateway(), "inv/1", Money("540.00", "EUR"))
    parts = urlsplit(url)
    assert parts.path == "/invoices/inv%2F1/pay"
    assert parse_qs(parts.query) == {"reference": ["Invoice INV-2026-0001"]}
    absolute = pay_link(
        ManualPaymentGateway(base_url="https://portal.example/"), "inv-1", Money("1", "JPY")
    )
    assert absolute.startswith("https://portal.example/invoices/inv-1/pay?reference=")


def test_there_is_no_pay_link_for_nothing() -> None:
    with pytest.raises(InvalidInput):
        pay_link(ManualPaymentGateway(), "inv-1", Money("0.00", "EUR"))


def test_without_secrets_every_notification_is_refused() -> None:
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    body = b'{"id": "evt-1"}'
    with pytest.raises(EventNotVerified):
        ManualPaymentGateway().parse_event(body, signed_headers(body, "", now), now)
