"""Manual payments: bank transfers with the portal's instructions page, and the portal's own
signed payment notifications for bank feeds and accounting tools."""

from adapters.manual.events import (
    SIGNATURE_HEADER,
    parse_portal_event,
    portal_event_body,
    signed_headers,
)
from adapters.manual.gateway import ManualPaymentGateway

__all__ = [
    "SIGNATURE_HEADER",
    "ManualPaymentGateway",
    "parse_portal_event",
    "portal_event_body",
    "signed_headers",
]
