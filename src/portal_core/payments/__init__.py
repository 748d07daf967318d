"""Payments: pay links, verified gateway notifications, bank transfers, refunds, reminders,
receipts and the receivables export (issue 8). Pure: gateways are behind `PaymentGateway`."""

from portal_core.payments.events import CheckoutStarted, PaymentRefunded, PaymentReminderDue
from portal_core.payments.model import (
    CURRENCY_MISMATCH,
    INVOICE_ALREADY_PAID,
    INVOICE_NOT_PAYABLE,
    UNKNOWN_INVOICE,
    Checkout,
    CheckoutUrls,
    EventNotVerified,
    GatewayUnavailable,
    MalformedEvent,
    PaymentEvent,
    PaymentEventKind,
    PaymentRefused,
    RefundNotCovered,
    from_minor_units,
    to_minor_units,
)
from portal_core.payments.notices import PaymentNotices
from portal_core.payments.ports import PaymentGateway
from portal_core.payments.receivables_export import (
    ReceivableRow,
    ReceivablesExport,
    ReceivablesReport,
    receivables_csv,
    receivables_report,
)
from portal_core.payments.reminders import ReminderSchedule, ReminderService
from portal_core.payments.service import PaymentOutcome, PaymentService
from portal_core.payments.webhooks import WebhookReply, receive_payment_webhook

__all__ = [
    "CURRENCY_MISMATCH",
    "INVOICE_ALREADY_PAID",
    "INVOICE_NOT_PAYABLE",
    "UNKNOWN_INVOICE",
    "Checkout",
    "CheckoutStarted",
    "CheckoutUrls",
    "EventNotVerified",
    "GatewayUnavailable",
    "MalformedEvent",
    "PaymentEvent",
    "PaymentEventKind",
    "PaymentGateway",
    "PaymentNotices",
    "PaymentOutcome",
    "PaymentRefunded",
    "PaymentRefused",
    "PaymentReminderDue",
    "PaymentService",
    "ReceivableRow",
    "ReceivablesExport",
    "ReceivablesReport",
    "RefundNotCovered",
    "ReminderSchedule",
    "ReminderService",
    "WebhookReply",
    "from_minor_units",
    "receivables_csv",
    "receivables_report",
    "receive_payment_webhook",
    "to_minor_units",
]
