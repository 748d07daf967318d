"""The payment webhook, framework-free: raw body and headers in, status and JSON body out.

The web route passes the request's raw bytes (never parsed and re-serialised JSON) and headers
and returns the reply as it is. Replies, and what the gateway does with them:

| status | outcome / code | meaning | gateway |
| --- | --- | --- | --- |
| 200 | recorded, refunded | the payment or refund is stored (after the commit) | done |
| 200 | duplicate | seen before: nothing changed | done |
| 200 | ignored | a failed attempt or an event the portal does not use | done |
| 400 | malformed_event | signed, but not a notification the portal can read | retries, then gives up |
| 401 | event_not_verified | bad or missing signature, timestamp over 300 s old or ahead | retries, then gives up |
| 409 | refund_not_covered | refund above the client's credit: issue a credit note | its retry succeeds |
| 409 | conflict | the payment's reference was recorded with another amount | retries, then gives up |
| 422 | unknown_invoice, invoice_already_paid, invoice_not_payable, currency_mismatch | refused | retries, then gives up |

Any refusal records nothing and writes one log line (event id, invoice id, code; never the body
or a secret). A storage failure raises, for the web edge's generic 500: the gateway retries, and
the event is recorded only once its transaction commits. Stripe retries a non-2xx reply with
back-off for up to three days, never forever, and shows each failed delivery in its dashboard:
where staff see a refusal and refund the client or fix the invoice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus

from attrs import frozen

from portal_core.errors import Conflict
from portal_core.payments.model import (
    EventNotVerified,
    MalformedEvent,
    PaymentRefused,
    RefundNotCovered,
)
from portal_core.payments.ports import PaymentGateway
from portal_core.payments.service import PaymentService

log = logging.getLogger(__name__)


@frozen(kw_only=True)
class WebhookReply:
    status: int
    body: dict[str, str]


def receive_payment_webhook(
    service: PaymentService,
    gateway: PaymentGateway,
    raw_body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> WebhookReply:
    """Verify, parse and apply one notification; the reply for the gateway (see above)."""
    try:
        event = gateway.parse_event(raw_body, headers, now)
        outcome = service.handle_event(event)
    except EventNotVerified as error:
        log.warning("%s webhook refused: signature not verified", gateway.source)
        return _problem(HTTPStatus.UNAUTHORIZED, error.code, error.message)
    except MalformedEvent as error:
        log.warning("%s webhook refused: %s", gateway.source, error.message)
        return _problem(HTTPStatus.BAD_REQUEST, error.code, error.message)
    except PaymentRefused as error:  # logged with the event's ids by the service
        return _problem(HTTPStatus.UNPROCESSABLE_ENTITY, error.code, error.message)
    except (RefundNotCovered, Conflict) as error:
        return _problem(HTTPStatus.CONFLICT, error.code, error.message)
    return WebhookReply(
        status=HTTPStatus.OK, body={"outcome": outcome.value, "event_id": event.event_id}
    )


def _problem(status: HTTPStatus, code: str, detail: str) -> WebhookReply:
    return WebhookReply(status=status, body={"code": code, "detail": detail})
