"""Inbound webhooks from the external systems: Salesforce and the payment gateways.

| route                                        | sender                     | proof                        |
| POST /webhooks/salesforce/outbound-messages  | Salesforce outbound message| the configured OrganizationId|
| POST /webhooks/salesforce/change-events      | a change-data-capture relay| `Portal-Signature` (HMAC)    |
| POST /webhooks/payments/stripe               | Stripe                     | `Stripe-Signature` (HMAC)    |
| POST /webhooks/payments/manual               | a bank feed, accounting    | `Portal-Signature` (HMAC)    |

They are public and exempt from CSRF: each proves its sender by its own means, on the RAW body
as received (a re-serialised body would not match its signature). The handlers are the
framework-free ones of the adapters and of `portal_core.payments`; this module only reads the
body, calls them in a worker thread (they commit to the database before replying), and sends
their reply exactly as they give it. A route whose system is not configured answers 404.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.concurrency import sync_to_thread
from litestar.exceptions import NotFoundException

from adapters.manual import ManualPaymentGateway
from adapters.salesforce import handle_change_event, handle_outbound_message
from adapters.salesforce.outbound_messages import MAX_BODY_BYTES as OUTBOUND_MESSAGE_MAX_BYTES
from entrypoints.bootstrap import Container
from entrypoints.web.dependencies import PortalContainer
from entrypoints.web.operations import SKIP_RATE_LIMIT
from portal_core.payments.ports import PaymentGateway
from portal_core.payments.webhooks import receive_payment_webhook
from portal_core.signatures import SignatureInvalid, verify_signature

CHANGE_EVENT_SIGNATURE_HEADER = "Portal-Signature"
"""The header of the change-event relay's signature: `t=<unix seconds>,v1=<hex>`."""
CHANGE_EVENTS_MAX_BYTES = OUTBOUND_MESSAGE_MAX_BYTES
PAYMENT_EVENT_MAX_BYTES = 1_000_000
"""Stripe's events are a few kilobytes; a megabyte leaves room and stops a flood early."""

SALESFORCE_OUTBOUND_PATH = "/webhooks/salesforce/outbound-messages"
SALESFORCE_CHANGE_EVENTS_PATH = "/webhooks/salesforce/change-events"
STRIPE_PATH = "/webhooks/payments/stripe"
MANUAL_PAYMENTS_PATH = "/webhooks/payments/manual"

_NO_CACHE = {"Cache-Control": "no-store"}


class WebhookController(Controller):
    tags = ["webhooks"]  # noqa: RUF012 (Litestar reads these class attributes)
    include_in_schema = False  # called by vendors, configured in their consoles
    # Not limited per address: a vendor delivers from a few addresses, in bursts, and retries.
    opt = {  # noqa: RUF012
        "exclude_from_csrf": True,
        "public": True,
        "skip_compression": True,
        SKIP_RATE_LIMIT: True,
    }

    @post(SALESFORCE_OUTBOUND_PATH, request_max_body_size=OUTBOUND_MESSAGE_MAX_BYTES)
    async def salesforce_outbound_message(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Response[bytes]:
        wiring = container.salesforce
        if wiring is None:
            raise NotFoundException("Salesforce is not configured.")
        body = await request.body()
        reply = await sync_to_thread(
            lambda: handle_outbound_message(
                body,
                request.headers.get("content-type"),
                parser=wiring.outbound_messages,
                sync=container.sync,
                case_system=wiring.case_system,
            )
        )
        return Response(
            reply.body, status_code=reply.status, media_type=reply.content_type, headers=_NO_CACHE
        )

    @post(SALESFORCE_CHANGE_EVENTS_PATH, request_max_body_size=CHANGE_EVENTS_MAX_BYTES)
    async def salesforce_change_events(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Response[bytes]:
        wiring = container.salesforce
        salesforce_settings = container.settings.salesforce
        if wiring is None or salesforce_settings is None:
            raise NotFoundException("Salesforce is not configured.")
        body = await request.body()
        try:
            verify_signature(
                request.headers.get(CHANGE_EVENT_SIGNATURE_HEADER),
                body,
                salesforce_settings.event_secrets,
                container.clock.now(),
            )
        except SignatureInvalid as refused:
            payload = {"error": "refused", "message": str(refused)}
            return Response(
                json.dumps(payload).encode(),
                status_code=401,
                media_type="application/json",
                headers=_NO_CACHE,
            )
        reply = await sync_to_thread(
            lambda: handle_change_event(
                body,
                request.headers.get("content-type"),
                parser=wiring.change_events,
                sync=container.sync,
                case_system=wiring.case_system,
            )
        )
        return Response(
            reply.body, status_code=reply.status, media_type=reply.content_type, headers=_NO_CACHE
        )

    @post(STRIPE_PATH, request_max_body_size=PAYMENT_EVENT_MAX_BYTES)
    async def stripe_event(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Response[dict[str, str]]:
        gateway = container.payment_gateway
        if gateway.source != "stripe":
            raise NotFoundException("Stripe is not configured.")
        return await _payment_event(request, container, gateway)

    @post(MANUAL_PAYMENTS_PATH, request_max_body_size=PAYMENT_EVENT_MAX_BYTES)
    async def manual_payment_notification(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Response[dict[str, str]]:
        return await _payment_event(request, container, manual_gateway(container))


def manual_gateway(container: Container) -> PaymentGateway:
    """The gateway that reads the portal's own signed payment notifications: the container's
    when it is the manual one, else one with the notification secrets (beside Stripe)."""
    if isinstance(container.payment_gateway, ManualPaymentGateway):
        return container.payment_gateway
    return ManualPaymentGateway(
        base_url=container.settings.base_url,
        webhook_secrets=container.settings.payment_notification_secrets,
    )


async def _payment_event(
    request: Request[Any, Any, Any], container: Container, gateway: PaymentGateway
) -> Response[dict[str, str]]:
    body = await request.body()
    headers = dict(request.headers)
    reply = await sync_to_thread(
        lambda: receive_payment_webhook(
            container.payments, gateway, body, headers, container.clock.now()
        )
    )
    return Response(reply.body, status_code=reply.status, headers=_NO_CACHE)
