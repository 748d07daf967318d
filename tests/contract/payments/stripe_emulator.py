"""Stripe in a box, for `httpx.MockTransport`: built from Stripe's documented formats.

`POST /v1/checkout/sessions` (form-encoded, `Authorization: Bearer sk_...`): validates the
fields a one-line payment session needs, honours `Idempotency-Key` (the same key and the same
parameters replay the first answer with `Idempotent-Replayed: true`; other parameters get a
400 `idempotency_error`), and answers with a Checkout Session object. Errors are Stripe's
`{"error": {"type", "code", "message", "param"}}`. `outage` makes every call a 500.

The client's and the firm's side: `complete(session_id)` pays a session and `refund(...)`
refunds part of its payment, each returning the webhook delivery Stripe would POST: an Event
object (`{id, object: "event", type, created, data: {object}}`) signed in `Stripe-Signature`
(`t=<unix>,v1=<hex>`, HMAC-SHA256 of `"<t>.<raw body>"` with the endpoint secret).
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
from attrs import frozen

from portal_core.ports import Clock
from portal_core.signatures import sign

SECRET_KEY = "sk_test_emulator"
WEBHOOK_SECRET = "whsec_emulator_current"
SESSION_LIFETIME = timedelta(hours=24)
REQUIRED_FIELDS = (
    "mode",
    "line_items[0][price_data][currency]",
    "line_items[0][price_data][unit_amount]",
    "line_items[0][price_data][product_data][name]",
    "line_items[0][quantity]",
    "success_url",
)


@frozen(kw_only=True)
class Delivery:
    body: bytes
    headers: dict[str, str]
    event: dict[str, Any]


def _error(status: int, error_type: str, message: str, **extra: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": error_type, "message": message, **extra}})


class StripeEmulator:
    def __init__(self, clock: Clock, *, webhook_secret: str = WEBHOOK_SECRET) -> None:
        self._clock = clock
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self._idempotency: dict[str, tuple[dict[str, str], httpx.Response]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self._numbers = itertools.count(1)
        self.outage = False

    # the API --------------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.outage:
            return _error(500, "api_error", "Something went wrong on Stripe's end.")
        if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        if request.method != "POST" or request.url.path != "/v1/checkout/sessions":
            return _error(404, "invalid_request_error", "Unrecognized request URL.")
        if not request.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _error(400, "invalid_request_error", "Send the parameters form-encoded.")
        params = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self._idempotency:
            first_params, first_response = self._idempotency[key]
            if first_params != params:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
            return httpx.Response(
                first_response.status_code,
                content=first_response.content,
                headers={"Content-Type": "application/json", "Idempotent-Replayed": "true"},
            )
        response = self._create_session(params)
        if key is not None:
            self._idempotency[key] = (params, response)
        return response

    def _create_session(self, params: dict[str, str]) -> httpx.Response:
        for name in REQUIRED_FIELDS:
            if not params.get(name):
                return _error(
                    400,
                    "invalid_request_error",
                    f"Missing required param: {name}.",
                    code="parameter_missing",
                    param=name,
                )
        if params["mode"] != "payment":
            return _error(400, "invalid_request_error", "Invalid mode.", param="mode")
        currency = params["line_items[0][price_data][currency]"]
        unit_amount = params["line_items[0][price_data][unit_amount]"]
        quantity = params["line_items[0][quantity]"]
        if currency != currency.lower() or len(currency) != 3:
            return _error(400, "invalid_request_error", "Invalid currency.", param="currency")
        if not unit_amount.isdigit() or not quantity.isdigit() or int(unit_amount) < 1:
            return _error(
                400,
                "invalid_request_error",
                "Invalid integer.",
                code="parameter_invalid_integer",
                param="line_items[0][price_data][unit_amount]",
            )
        number = next(self._numbers)
        now = self._clock.now()
        session_id = f"cs_test_{number:08d}"
        metadata = {
            name.removeprefix("metadata[").removesuffix("]"): value
            for name, value in params.items()
            if name.startswith("metadata[")
        }
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": int(unit_amount) * int(quantity),
            "currency": currency,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": metadata,
            "payment_intent": None,
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "created": int(now.timestamp()),
            "expires_at": int((now + SESSION_LIFETIME).timestamp()),
            "livemode": False,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return httpx.Response(200, json=session)

    # the client pays, the firm refunds ------------------------------------------------------

    def complete(
        self,
        session_id: str,
        *,
        payment_status: str = "paid",
        amount_total: int | None = None,
        currency: str | None = None,
        event_type: str = "checkout.session.completed",
    ) -> Delivery:
        """The client finished the session: its `checkout.session.completed` delivery."""
        session = self.sessions[session_id]
        number = next(self._numbers)
        session.update(
            status="complete",
            payment_status=payment_status,
            payment_intent=session["payment_intent"] or f"pi_test_{number:08d}",
        )
        if amount_total is not None:
            session["amount_total"] = amount_total
        if currency is not None:
            session["currency"] = currency
        if payment_status == "paid":
            self.charges[session["payment_intent"]] = {
                "id": f"ch_test_{number:08d}",
                "object": "charge",
                "amount": session["amount_total"],
                "amount_refunded": 0,
                "currency": session["currency"],
                "payment_intent": session["payment_intent"],
                "refunded": False,
                "metadata": {},
            }
        return self.deliver(event_type, dict(session))

    def refund(self, payment_intent: str, amount: int) -> Delivery:
        """The firm refunded `amount` (minor units) more of a payment: `charge.refunded`."""
        charge = self.charges[payment_intent]
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return self.deliver("charge.refunded", dict(charge))

    def deliver(self, event_type: str, obj: dict[str, Any], at: datetime | None = None) -> Delivery:
        moment = at or self._clock.now()
        event = {
            "id": f"evt_test_{next(self._numbers):08d}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(moment.timestamp()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": obj},
        }
        return self.redeliver(event, at=moment)

    def redeliver(self, event: dict[str, Any], at: datetime | None = None) -> Delivery:
        """Stripe's retry of an event: the same event, signed anew at the time of sending."""
        body = json.dumps(event, indent=2).encode()
        moment = at or self._clock.now()
        return Delivery(
            body=body,
            headers={
                "Stripe-Signature": sign(body, self.webhook_secret, moment),
                "Content-Type": "application/json; charset=utf-8",
            },
            event=event,
        )
