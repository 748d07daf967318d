"""Recording changes and dispatching events after commit.

`record_change` puts an event's durable traces (audit entry, outbox row) into the unit of work,
so they commit or roll back together with the change itself. In-process subscribers (live
updates) hear about events only once the transaction has committed, through `EventDispatcher`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from portal_core.audit import AuditRecord
from portal_core.events import DomainEvent, EventHeader
from portal_core.ports import Clock, IdGenerator, OutboxMessage, UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


def event_header(
    ids: IdGenerator, clock: Clock, *, actor_id: str, organisation_id: str | None
) -> EventHeader:
    """A new event's id, time, organisation and actor: `SomethingHappened(**header, ...)`."""
    return {
        "event_id": ids.new_id(),
        "occurred_at": clock.now(),
        "organisation_id": organisation_id,
        "actor_id": actor_id,
    }


def record_change(
    uow: UnitOfWork,
    event: DomainEvent,
    *,
    ids: IdGenerator,
    subject_type: str,
    subject_id: str,
    details: Mapping[str, str] | None = None,
    outbox: bool = True,
) -> None:
    """Audit `event` and queue it for delivery, inside the caller's transaction."""
    uow.audit.append(
        AuditRecord(
            id=ids.new_id(),
            at=event.occurred_at,
            actor_id=event.actor_id,
            organisation_id=event.organisation_id,
            action=event.kind,
            subject_type=subject_type,
            subject_id=subject_id,
            details=dict(details or {}),
        )
    )
    if outbox:
        uow.outbox.add(
            OutboxMessage(
                id=event.event_id,
                event=event,
                created_at=event.occurred_at,
                available_at=event.occurred_at,
            )
        )


class EventDispatcher:
    """Calls in-process handlers for committed events. A failing handler never undoes the
    committed change; it is logged, and durable side effects go through the outbox instead."""

    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type[DomainEvent], handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def dispatch(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            for event_type, handlers in self._handlers.items():
                if not isinstance(event, event_type):
                    continue
                for handler in handlers:
                    try:
                        handler(event)
                    except Exception:  # a subscriber's failure must not reach the caller
                        log.exception("handler %r failed for event %s", handler, event.event_id)
