"""Stripe as the payment gateway, over httpx: Checkout Sessions and signed webhook events.

A pay link is a Checkout Session (`POST /v1/checkout/sessions`, form-encoded, bearer secret
key, `Idempotency-Key`) in `payment` mode with one line for the invoice's open amount in minor
units; the invoice id travels as `client_reference_id` and `metadata[invoice_id]` (and on the
PaymentIntent's metadata), so the completed session names the invoice. Webhooks are verified
with the shared signed-JSON rule over the raw body (`Stripe-Signature`, any of the configured
endpoint secrets during a rotation, 300 s either way), then read by `adapters.stripe.events`.

Failures: Stripe's `idempotency_error` (a key reused with other parameters) is a `Conflict`;
other 4xx replies are `InvalidInput` with Stripe's error code (never its full reply); 429, 5xx,
timeouts and connection errors are `GatewayUnavailable`. The secret key is only ever sent in
the Authorization header; nothing here logs a body, a header or a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx

from adapters.manual.events import header, verified_json
from adapters.stripe.events import SOURCE, payment_event
from portal_core.billing.money import Money
from portal_core.errors import Conflict, InvalidInput
from portal_core.payments.model import (
    Checkout,
    GatewayUnavailable,
    PaymentEvent,
    to_minor_units,
)
from portal_core.signatures import DEFAULT_TOLERANCE_SECONDS

log = logging.getLogger(__name__)

API_BASE = "https://api.stripe.com"
SIGNATURE_HEADER = "Stripe-Signature"


class StripePaymentGateway:
    source = SOURCE

    def __init__(
        self,
        client: httpx.Client,
        *,
        secret_key: str,
        webhook_secrets: Sequence[str],
        api_base: str = API_BASE,
        tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    ) -> None:
        """`client` is owned by the caller (timeouts, proxies, closing); `webhook_secrets` are
        the endpoint's signing secrets (`whsec_...`), old and new together while rotating."""
        if not secret_key:
            raise ValueError("Stripe needs its secret key.")
        self._client = client
        self._secret_key = secret_key
        self._webhook_secrets = tuple(webhook_secrets)
        self._api_base = api_base.rstrip("/")
        self._tolerance = tolerance

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
        form = {
            "mode": "payment",
            "line_items[0][price_data][currency]": amount.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(to_minor_units(amount)),
            "line_items[0][price_data][product_data][name]": description,
            "line_items[0][quantity]": "1",
            "client_reference_id": invoice_id,
            "metadata[invoice_id]": invoice_id,
            "metadata[organisation_id]": organisation_id,
            "payment_intent_data[metadata][invoice_id]": invoice_id,
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        try:
            response = self._client.post(
                f"{self._api_base}/v1/checkout/sessions",
                data=form,
                headers={
                    "Authorization": f"Bearer {self._secret_key}",
                    "Idempotency-Key": idempotency_key,
                },
            )
        except httpx.HTTPError as error:
            log.warning("Stripe unreachable creating a checkout: %s", type(error).__name__)
            raise GatewayUnavailable("The payment provider cannot be reached; try again.") from None
        if response.status_code == 429 or response.status_code >= 500:
            log.warning("Stripe answered %d creating a checkout", response.status_code)
            raise GatewayUnavailable("The payment provider is unavailable; try again shortly.")
        if response.status_code >= 400:
            error_type, code = _error(response)
            log.warning(
                "Stripe refused a checkout (%d %s %s)", response.status_code, error_type, code
            )
            if error_type == "idempotency_error":
                raise Conflict("This checkout was already requested with different details.")
            raise InvalidInput(f"The payment provider refused the checkout ({code or error_type}).")
        return _checkout(response)

    def parse_event(
        self, raw_body: bytes, headers: Mapping[str, str], now: datetime
    ) -> PaymentEvent:
        document = verified_json(
            raw_body,
            header(headers, SIGNATURE_HEADER),
            self._webhook_secrets,
            now,
            self._tolerance,
        )
        return payment_event(document)


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("type", "error")), str(error.get("code", ""))
    except (ValueError, AttributeError):
        return "error", ""


def _checkout(response: httpx.Response) -> Checkout:
    try:
        session = response.json()
        session_id = session["id"]
        url = session["url"]
        expires_at = session.get("expires_at")
    except (ValueError, KeyError, TypeError):
        raise GatewayUnavailable(
            "The payment provider answered with something unreadable."
        ) from None
    if not isinstance(session_id, str) or not isinstance(url, str):
        raise GatewayUnavailable("The payment provider answered without a checkout address.")
    return Checkout(
        url=url,
        session_id=session_id,
        expires_at=(
            datetime.fromtimestamp(expires_at, UTC)
            if isinstance(expires_at, int) and not isinstance(expires_at, bool)
            else None
        ),
    )
