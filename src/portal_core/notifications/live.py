"""Live updates: which committed change is pushed to whose open pages, and what it says.

Subscribed on the EventDispatcher, so an update leaves only after its change has committed.
Every update goes to the firm's staff; an update for a client organisation's pages goes to its
users too, unless it is `staff_only` (internal notes, assignments), which clients never receive;
invoice and payment updates are `billing_only`: for the contacts who see invoices.
The `text` is the case timeline's line for the change, so a page can append it as it is.
"""

from __future__ import annotations

import logging
from datetime import datetime

from portal_core.billing.events import InvoiceIssued, PaymentRecorded
from portal_core.cases.model import (
    AttachmentAdded,
    Case,
    CaseAssigned,
    CaseDetailsChanged,
    CaseEvent,
    CaseLinked,
    CaseStatusChanged,
    CaseSubmitted,
    CaseSynced,
    CommentAdded,
    Visibility,
)
from portal_core.dispatch import EventDispatcher
from portal_core.events import DomainEvent
from portal_core.notifications.messages import STATUS_LABELS
from portal_core.ports import LiveUpdate, Publisher, UnitOfWorkFactory

log = logging.getLogger(__name__)

TEXT_LIMIT = 280
"""Characters of a comment carried in an update; the page links to the whole of it."""

CASE_EVENTS: tuple[type[DomainEvent], ...] = (
    CaseSubmitted,
    CaseStatusChanged,
    CaseAssigned,
    CaseDetailsChanged,
    CommentAdded,
    AttachmentAdded,
    CaseLinked,
    CaseSynced,
)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_LIMIT else flat[: TEXT_LIMIT - 1].rstrip() + "…"


def timeline_text(event: CaseEvent) -> str:
    """The line the case's timeline shows for `event`."""
    match event:
        case CaseSubmitted():
            return "Request submitted"
        case CaseStatusChanged(new_status=status):
            return f"Status changed to {STATUS_LABELS[status]}"
        case CaseSynced(status=status, old_status=old) if status != old:
            return f"Status changed to {STATUS_LABELS[status]}"
        case CaseSynced():
            return "Details updated"
        case CaseAssigned(assignee_id=None):
            return "Unassigned"
        case CaseAssigned():
            return "Assigned"
        case CaseDetailsChanged():
            return "Details updated"
        case CommentAdded(visibility=Visibility.INTERNAL, body=body):
            return f"Internal note: {_short(body)}"
        case CommentAdded(body=body):
            return f"Reply: {_short(body)}"
        case AttachmentAdded(display_name=name):
            return f"File added: {name}"
        case CaseLinked(external_number=number):
            return f"Case number {number} given"
    raise TypeError(f"Not a case event: {event!r}")  # pragma: no cover (the union is closed)


def _time(at: datetime) -> str:
    return at.isoformat()


def case_update(event: CaseEvent, case: Case) -> LiveUpdate:
    """The update for a committed case event, `case` being the case after it."""
    staff_only = isinstance(event, CaseAssigned) or (
        isinstance(event, CommentAdded) and event.visibility is not Visibility.PUBLIC
    )
    return LiveUpdate(
        organisation_id=case.organisation_id,
        kind="case",
        case_id=case.id,
        staff_only=staff_only,
        data={
            "case_id": case.id,
            "number": case.number,
            "subject": case.subject,
            "status": case.status.value,
            "status_label": STATUS_LABELS[case.status],
            "updated_at": _time(case.updated_at),
            "kind": event.kind,
            "text": timeline_text(event),
            "at": _time(event.occurred_at),
        },
    )


def invoice_update(event: InvoiceIssued | PaymentRecorded) -> LiveUpdate | None:
    if event.organisation_id is None:
        return None
    if isinstance(event, InvoiceIssued):
        data = {
            "invoice_id": event.invoice_id,
            "number": event.number,
            "amount": event.gross,
            "currency": event.currency,
            "status": "issued",
            "text": f"Invoice {event.number} issued: {event.gross} {event.currency}",
        }
    else:
        data = {
            "invoice_id": event.invoice_id,
            "number": "",
            "amount": event.amount,
            "currency": event.currency,
            "status": event.status,
            "text": f"Payment of {event.amount} {event.currency} recorded",
        }
    return LiveUpdate(
        organisation_id=event.organisation_id,
        kind="invoice",
        case_id=None,
        billing_only=True,
        data={**data, "kind": event.kind, "at": _time(event.occurred_at)},
    )


class LivePublishing:
    """Turns committed events into live updates on `publisher`."""

    def __init__(self, *, uow: UnitOfWorkFactory, publisher: Publisher) -> None:
        self._uow = uow
        self._publisher = publisher

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        for event_type in CASE_EVENTS:
            dispatcher.subscribe(event_type, self.on_case_event)
        dispatcher.subscribe(InvoiceIssued, self.on_invoice_event)
        dispatcher.subscribe(PaymentRecorded, self.on_invoice_event)

    def on_case_event(self, event: CaseEvent) -> None:
        with self._uow(read_only=True) as uow:
            case = uow.cases.get(event.case_id)
        if case is None:
            return
        self._publisher.publish(case_update(event, case))

    def on_invoice_event(self, event: InvoiceIssued | PaymentRecorded) -> None:
        update = invoice_update(event)
        if update is not None:
            self._publisher.publish(update)
